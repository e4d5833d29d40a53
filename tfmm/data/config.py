"""`data:` in a config: where the examples are and how the tf.data pipeline reads them."""

from dataclasses import dataclass, field
from typing import Literal, Optional, Union

from tfmm.schema import ConfigError, positive


@dataclass(frozen=True)
class DataConfig:
    """Where the examples are and how the tf.data pipeline reads them.

    `train`, `val` and `test` are manifests (.csv / .jsonl), TFRecord globs
    (`shards/train-*.tfrecord`) or `tfds:NAME/SPLIT`. Relative paths are resolved
    against the config file's folder.
    """

    # The training split: a manifest (.csv, .jsonl, .parquet), a TFRecord glob or tfds:NAME/SPLIT.
    train: Optional[str] = None
    # The validation split (model selection, early stopping, thresholds); same forms as train.
    val: Optional[str] = None
    # The test split, scored once at the end of training; same forms as train.
    test: Optional[str] = None
    # Examples per replica per step (the global batch is this times the replicas).
    batch_size: int = 32
    # Manifests are shuffled fully each epoch (a permutation seeded by `seed`); the buffer
    # is for TFRecord and TFDS sources, and for manifests with `cache: true`.
    shuffle_buffer: int = 1024
    # Seeds the shuffling of every epoch and the model's initialisation.
    seed: int = 0
    # Decoded examples kept from the first epoch, so later epochs decode nothing:
    # false or "none": no cache; true or "memory": in memory (the decoded split must fit:
    # an image is height x width x 3 x 4 bytes, a clip 4 bytes a sample); a folder: on
    # disk (a tf.data snapshot per split and preprocessing, normally reused by later
    # runs; a run killed mid-epoch leaves no half-written cache in use). A relative folder
    # resolves against the config's folder. Augmentation runs in the model, after the cache.
    cache: Union[bool, str] = False
    # Keep tf.data's element order fixed under parallel decoding (slower).
    deterministic: bool = False
    # "fail": stop at the first bad row, naming it; "skip": drop bad rows, count them and write
    # bad_examples_SPLIT.csv into the run.
    on_bad_example: Literal["fail", "skip"] = "fail"
    # For tfds: sources: the dataset's feature -> the column name the config reads.
    tfds_features: dict[str, str] = field(default_factory=dict)
    # Where TFDS keeps prepared datasets (tfds.load's data_dir); None: TFDS's default
    # (~/tensorflow_datasets or $TFDS_DATA_DIR).
    tfds_data_dir: Optional[str] = None
    # Media files larger than this are refused by name (before any read), as are paths
    # that are not regular files (directories, FIFOs, devices): nothing hangs or fills
    # memory on them.
    max_file_mb: float = 256.0
    # Caps read from headers before anything is decoded: an image over this many pixels
    # (a decompression bomb: a small PNG that decodes to gigabytes) and a WAV clip longer
    # than this are bad examples, named by row.
    max_image_megapixels: float = 100.0
    # A WAV clip longer than this many seconds is a bad example (read from its header).
    max_audio_seconds: float = 600.0
    # When set, every media path (relative or absolute, after symlinks) must resolve
    # inside this folder; others are bad examples. None: any readable path.
    media_root: Optional[str] = None
    # grpc://HOST:PORT of a tf.data service dispatcher (`tfmm data serve`): the training
    # pipeline's reading and decoding run on its workers, each example once per epoch.
    # None: in this process.
    service: Optional[str] = None
    # A Parquet split too large to load is streamed (`tfmm.data.stream`): read a record
    # batch at a time, checked batch by batch, shuffled through `shuffle_buffer`. true:
    # always; false: never (loaded whole); "auto": when the file's data, uncompressed, is
    # over `stream_over_mb`.
    stream: Union[bool, str] = "auto"
    # Under `stream: auto`, a Parquet file whose data, uncompressed (from its metadata),
    # is over this many MB is streamed; a smaller one is loaded.
    stream_over_mb: float = 512.0
    # What preprocessing learns from a streamed training split (vocabularies, bin edges,
    # category lists) comes from up to this many of its rows, whole row groups spread
    # over the file; labels and class counts from the whole label column.
    fit_rows: int = 100_000

    @property
    def cache_mode(self) -> str:
        """ "none", "memory" or "disk" (`cache` names a folder)."""
        if self.cache in (False, "none"):
            return "none"
        return "memory" if self.cache in (True, "memory") else "disk"

    def validate(self, path):
        positive(
            self,
            path,
            "batch_size",
            "max_file_mb",
            "max_image_megapixels",
            "max_audio_seconds",
            "stream_over_mb",
            "fit_rows",
        )
        if self.stream not in (True, False, "auto"):
            raise ConfigError(
                f"{path}.stream: expected true, false or 'auto'. Received: {self.stream!r}".lstrip(
                    "."
                )
            )
        if self.cache == "":
            raise ConfigError(
                f"{path}.cache: expected true, false, 'none', 'memory' or a "
                f"folder. Received: ''".lstrip(".")
            )
        if self.service is not None:
            from tfmm.data.service import check_address

            try:
                check_address(self.service, f"{path}.service".lstrip("."))
            except ValueError as e:
                raise ConfigError(str(e)) from None
