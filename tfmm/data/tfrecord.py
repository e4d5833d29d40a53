"""TFRecord shards: the raw encoded bytes (JPEG/PNG/WAV as they are), text and labels."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfmm.data.errors import DataError
from tfmm.data.manifest import Manifest
from tfmm.data.sources import expand_files, load_manifest, media_columns, raw_columns


def write_tfrecords(config, manifest_path, out_dir, shards=4, prefix=None, verbose=True):
    """Writes a manifest's examples to `shards` TFRecord files, after checking them.

    Each record is a `tf.train.Example` with one bytes feature per column the config reads
    (media columns hold the file's bytes, unchanged) plus `_row` (the manifest row), so the
    same `Preprocessor` decodes records and manifest rows alike.

    Args:
        config: `tfmm.Config`.
        manifest_path: str. The manifest to convert.
        out_dir: str. Output folder (created).
        shards: int. Number of files; rows are dealt round-robin.
        prefix: str. File name prefix; defaults to the manifest's name.

    Returns:
        list of the written file paths (`PREFIX-00000-of-00004.tfrecord`, ...).
    """
    if shards <= 0:
        raise DataError(f"--shards must be positive. Received: shards={shards}")
    manifest = Manifest(manifest_path)
    with_labels = all(o.column in manifest.columns for o in config.outputs)
    columns = load_manifest(config, manifest, with_labels=with_labels)
    media = set(media_columns(config))
    n = len(next(iter(columns.values())))
    prefix = prefix or os.path.splitext(os.path.basename(manifest_path))[0]
    os.makedirs(out_dir, exist_ok=True)
    paths = [
        os.path.join(out_dir, f"{prefix}-{s:05d}-of-{shards:05d}.tfrecord") for s in range(shards)
    ]
    writers = [tf.io.TFRecordWriter(p) for p in paths]
    bar = keras.utils.Progbar(n, unit_name="example") if verbose else None
    try:
        for k in range(n):
            feature = {"_row": tf.train.Feature(int64_list=tf.train.Int64List(value=[k + 1]))}
            for col, values in columns.items():
                if col in media and values[k]:
                    with open(values[k], "rb") as f:
                        data = f.read()
                elif col in media:  # an optional input's missing file
                    data = b""
                else:
                    data = values[k].encode("utf-8")
                feature[col] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writers[k % shards].write(example.SerializeToString())
            if bar is not None and (k % 50 == 0 or k == n - 1):
                bar.update(k + 1)
    finally:
        for w in writers:
            w.close()
    return paths


def read_tfrecords(config, pattern, input_context=None, with_labels=True):
    """A dataset of raw examples (column -> scalar string) from TFRecord shards.

    Under a multi-pipeline `InputContext`, whole files are dealt to the pipelines when
    there are at least as many files; otherwise records are.
    """
    files = expand_files(pattern)
    columns = raw_columns(config, with_labels)
    spec = {c: tf.io.FixedLenFeature([], tf.string) for c in columns}
    ds = tf.data.Dataset.from_tensor_slices(np.array(files))
    shard_records = False
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) >= input_context.num_input_pipelines:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        else:
            shard_records = True
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shard_records:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds.map(
        lambda r: tf.io.parse_single_example(r, spec), num_parallel_calls=tf.data.AUTOTUNE
    )
