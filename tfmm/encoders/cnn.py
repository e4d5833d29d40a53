"""Compact convolutional encoders for small data: images, and audio as log-mel images.

A few blocks of 3x3 convolutions with BatchNorm (or GroupNorm) and ReLU, pooled between
blocks, then global pooling. At the widths of the defaults (32-64-128) a model has about
0.3M parameters: it trains from scratch on a few hundred examples, where ResNet50's 24M
overfit or do not move (measured in BENCHMARKS.md). One encoder type, `cnn`, for both
modalities; the input's type picks the front end.
"""

from dataclasses import dataclass, field
from typing import Literal, Optional

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.log_mel import FRONT_END_ARGS, LogMelSpec, log_mel_front_end
from tfmm.encoders.registry import encoder_name, register_encoder
from tfmm.schema import ConfigError, positive, unit_interval
from tfmm.layers.audio import DownsampleMask, MaskedMeanMaxPooling, MaskedNormalize
from tfmm.layers.augment import SpecAugment
from tfmm.layers.sequence import SequenceMask


# The image encoder's global pools (`pooling`).
POOLINGS = ("avg", "max", "avg_max")


def _norm(kind, filters, name):
    if kind == "batch":
        # A short run from scratch needs moving statistics that follow the weights.
        return keras.layers.BatchNormalization(momentum=0.9, name=name)
    if kind == "group":
        return keras.layers.GroupNormalization(groups=min(8, filters), name=name)
    return keras.layers.Identity(name=name)


def _conv_blocks(filters, convs_per_stage, norm, prefix):
    """[(stage layers, pool or None)]: convolutions, norm and ReLU, then a 2x2 max pool
    after every stage but the last."""
    stages = []
    for s, f in enumerate(filters):
        layers = []
        for c in range(convs_per_stage):
            layers += [
                keras.layers.Conv2D(
                    f,
                    3,
                    padding="same",
                    use_bias=norm == "none",
                    kernel_initializer="he_normal",
                    name=f"{prefix}{s}_conv{c}",
                ),
                _norm(norm, f, f"{prefix}{s}_norm{c}"),
                keras.layers.ReLU(name=f"{prefix}{s}_relu{c}"),
            ]
        pool = (
            keras.layers.MaxPooling2D(2, padding="same", name=f"{prefix}{s}_pool")
            if s < len(filters) - 1
            else None
        )
        stages.append((layers, pool))
    return stages


def _check(filters, convs_per_stage, norm, dropout):
    if not filters or any(int(f) <= 0 for f in filters):
        raise ValueError(
            f"cnn encoder: filters must be a non-empty list of positive ints. "
            f"Received: filters={filters}"
        )
    if convs_per_stage < 1:
        raise ValueError(
            f"cnn encoder: convs_per_stage must be >= 1. "
            f"Received: convs_per_stage={convs_per_stage}"
        )
    if norm not in ("batch", "group", "none"):
        raise ValueError(
            f"cnn encoder: norm must be 'batch', 'group' or 'none'. Received: norm={norm!r}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"cnn encoder: dropout must be in [0, 1). Received: dropout={dropout}")


@keras.saving.register_keras_serializable(package="tfmm")
class ImageCNNEncoder(Encoder):
    """RGB images [batch, height, width, 3] in [0, 255] -> [batch, filters[-1]].

    Pixels are scaled to [-1, 1] inside the model, then `len(filters)` stages of
    `convs_per_stage` 3x3 convolutions (norm, ReLU), a 2x2 max pool between stages, and
    a global pool over the last feature map: its average (`pooling="avg"`), its maximum
    (`"max"`: whether a pattern occurs anywhere, which reads an object in clutter that
    the average dilutes; BENCHMARKS.md) or both (`"avg_max"`, twice as wide).

    Args:
        image_size: [height, width].
        filters: list of int. Channels per stage.
        convs_per_stage: int. Convolutions per stage.
        norm: "batch", "group" or "none".
        dropout: float. Dropout on the pooled vector.
        pooling: "avg", "max" or "avg_max". The global pool.
        return_sequence: bool. Output the last feature map as grid cells
            ({"sequence": [batch, cells, filters[-1]], "mask": all True}); no pooling.

    Example:

    >>> import numpy as np
    >>> enc = ImageCNNEncoder(image_size=[16, 16], filters=[4, 8])
    >>> tuple(enc(np.zeros((2, 16, 16, 3), "float32")).shape)
    (2, 8)
    >>> both = ImageCNNEncoder(image_size=[16, 16], filters=[4, 8], pooling="avg_max")
    >>> tuple(both(np.zeros((2, 16, 16, 3), "float32")).shape)
    (2, 16)
    """

    primary_input = "pixels"

    def __init__(
        self,
        image_size=(64, 64),
        filters=(32, 64, 128),
        convs_per_stage=2,
        norm="batch",
        dropout=0.0,
        pooling="avg",
        return_sequence=False,
        **kwargs,
    ):
        filters = [int(f) for f in filters]
        _check(filters, convs_per_stage, norm, dropout)
        if pooling not in POOLINGS:
            raise ValueError(
                f"cnn encoder: pooling must be one of {list(POOLINGS)}. "
                f"Received: pooling={pooling!r}"
            )
        image_size = list(image_size)
        # === Layers ===
        scale = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")
        stages = _conv_blocks(filters, convs_per_stage, norm, "stage")
        pools = []
        if pooling in ("avg", "avg_max"):
            pools.append(keras.layers.GlobalAveragePooling2D(name="pool"))
        if pooling in ("max", "avg_max"):
            pools.append(keras.layers.GlobalMaxPooling2D(name="max_pool"))
        join = keras.layers.Concatenate(name="pool_concat") if len(pools) > 1 else None
        drop = keras.layers.Dropout(dropout, name="dropout") if dropout else None

        # === Functional Model ===
        pixels = keras.Input((*image_size, 3), dtype="float32", name="pixels")
        x = scale(pixels)
        for layers, down in stages:
            for layer in layers:
                x = layer(x)
            if down is not None:
                x = down(x)
        if return_sequence:
            h, w, c = x.shape[1:]
            grid = keras.layers.Reshape((h * w, c), name="grid")(x)
            outputs = {"sequence": grid, "mask": SequenceMask("all", name="mask")(grid)}
        else:
            pooled = [p(x) for p in pools]
            outputs = join(pooled) if join is not None else pooled[0]
            if drop is not None:
                outputs = drop(outputs)
        super().__init__(inputs=pixels, outputs=outputs, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.filters = filters
        self.convs_per_stage = convs_per_stage
        self.norm = norm
        self.dropout = dropout
        self.pooling = pooling
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                k: getattr(self, k)
                for k in (
                    "image_size",
                    "filters",
                    "convs_per_stage",
                    "norm",
                    "dropout",
                    "pooling",
                    "return_sequence",
                )
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class AudioCNNEncoder(Encoder):
    """Waveforms [batch, num_samples] and valid lengths [batch] -> [batch, 2 * filters[-1]].

    The log-mel front end (in the model, as for the LSTM encoder) gives [frames, mel bins];
    each clip is normalised over its valid frames (`MaskedNormalize`), then 2-D
    convolution stages run over time x frequency with 2x2 max pools between them. Each
    pooled time step's frequency x channel features are projected to `filters[-1]`, and
    the valid steps are pooled by their mean and maximum (`MaskedMeanMaxPooling`), so an
    event anywhere in the clip counts and padding never does.

    Args:
        num_samples: int. Samples per (padded) clip.
        sample_rate, frame_length, frame_step, fft_length, num_mel_bins,
            lower_edge_hertz, upper_edge_hertz: front-end settings (`LogMelSpectrogram`).
        filters, convs_per_stage, norm, dropout: as `ImageCNNEncoder`.
        augment: bool. SpecAugment masks on the normalised log-mel frames in training.
        return_sequence: bool. Output the projected time steps with their mask.

    Example:

    >>> import numpy as np
    >>> enc = AudioCNNEncoder(num_samples=4000, num_mel_bins=8, filters=[4, 8])
    >>> tuple(enc({"waveform": np.zeros((2, 4000), "float32"),
    ...            "length": np.array([4000, 100])}).shape)
    (2, 16)
    """

    primary_input = "waveform"

    def __init__(
        self,
        num_samples,
        sample_rate=16000,
        frame_length=400,
        frame_step=160,
        fft_length=512,
        num_mel_bins=64,
        lower_edge_hertz=20.0,
        upper_edge_hertz=None,
        filters=(32, 64, 128),
        convs_per_stage=1,
        norm="batch",
        dropout=0.0,
        augment=False,
        return_sequence=False,
        **kwargs,
    ):
        filters = [int(f) for f in filters]
        _check(filters, convs_per_stage, norm, dropout)
        # === Layers ===
        spec_augment = SpecAugment(name="spec_augment") if augment else None
        front_end, frame_mask, num_frames = log_mel_front_end(
            num_samples,
            sample_rate,
            frame_length,
            frame_step,
            fft_length,
            num_mel_bins,
            lower_edge_hertz,
            upper_edge_hertz,
        )
        normalize = MaskedNormalize(name="mel_norm", dtype="float32")
        stages = _conv_blocks(filters, convs_per_stage, norm, "stage")
        project = keras.layers.Dense(filters[-1], activation="relu", name="project")
        pool = MaskedMeanMaxPooling(name="pool")
        drop = keras.layers.Dropout(dropout, name="dropout") if dropout else None

        # === Functional Model ===
        waveform = keras.Input((num_samples,), dtype="float32", name="waveform")
        length = keras.Input((), dtype="int32", name="length")
        mask = frame_mask(length)
        x = normalize(front_end(waveform), mask)
        if spec_augment is not None:
            x = spec_augment(x)
        x = keras.layers.Reshape((num_frames, num_mel_bins, 1), name="as_image")(x)
        for s, (layers, down) in enumerate(stages):
            for layer in layers:
                x = layer(x)
            if down is not None:
                x = down(x)
                mask = DownsampleMask(2, name=f"stage{s}_mask")(mask)
        steps, bins, channels = x.shape[1:]
        x = keras.layers.Reshape((steps, bins * channels), name="steps")(x)
        x = project(x)
        if return_sequence:
            outputs = {"sequence": x, "mask": keras.layers.Identity(name="mask")(mask)}
        else:
            outputs = pool(x, mask)
            if drop is not None:
                outputs = drop(outputs)
        super().__init__(inputs={"waveform": waveform, "length": length}, outputs=outputs, **kwargs)

        # === Config ===
        self.num_samples = num_samples
        for k, v in zip(
            FRONT_END_ARGS,
            (
                sample_rate,
                frame_length,
                frame_step,
                fft_length,
                num_mel_bins,
                lower_edge_hertz,
                upper_edge_hertz,
            ),
        ):
            setattr(self, k, v)
        self.filters = filters
        self.convs_per_stage = convs_per_stage
        self.norm = norm
        self.dropout = dropout
        self.augment = augment
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                k: getattr(self, k)
                for k in (
                    "num_samples",
                    *FRONT_END_ARGS,
                    "filters",
                    "convs_per_stage",
                    "norm",
                    "dropout",
                    "augment",
                    "return_sequence",
                )
            }
        )
        return config


@dataclass(frozen=True)
class CNNConfig(LogMelSpec):
    """A compact CNN for small data (`tfmm.encoders.cnn`): on images directly, on audio
    over the log-mel spectrogram (time x frequency). The audio front-end keys
    (`LogMelSpec`) apply to audio inputs only."""

    type: Literal["cnn"] = "cnn"
    # Filters per stage; each stage halves the resolution, then a global pool.
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    # Images: the global pool over the last feature map, "avg", "max" (an object anywhere in
    # clutter) or "avg_max"; null = "avg". Audio always pools the mean and max over its valid
    # frames (null only).
    pooling: Optional[Literal["avg", "max", "avg_max"]] = None
    # Convolutions per stage; null = 2 for images, 1 for audio.
    convs_per_stage: Optional[int] = None
    # Normalisation after each convolution: "batch", "group" (no batch statistics: for tiny batches)
    # or "none".
    norm: Literal["batch", "group", "none"] = "batch"
    # Dropout on the pooled features.
    dropout: float = 0.0

    def validate(self, path):
        super().validate(path)
        if not self.filters or any(f <= 0 for f in self.filters):
            raise ConfigError(
                f"{path}.filters: must be a non-empty list of positive ints. "
                f"Received: filters={self.filters}"
            )
        positive(self, path, "convs_per_stage")
        unit_interval(self, path, "dropout")

    def validate_for(self, input_type, path):
        if input_type != "image" and self.pooling is not None:
            raise ConfigError(
                f"{path}.pooling: images only; an audio cnn pools the mean and max over "
                f"its valid frames. Received: pooling={self.pooling!r}"
            )


@register_encoder("cnn", config=CNNConfig, modalities=("image", "audio"))
def build_cnn(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    common = dict(
        filters=cfg.filters,
        norm=cfg.norm,
        dropout=cfg.dropout,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
    if input_config.type == "image":
        return ImageCNNEncoder(
            image_size=list(input_config.image_hw),
            convs_per_stage=cfg.convs_per_stage or 2,
            pooling=cfg.pooling or "avg",
            **common,
        )
    return AudioCNNEncoder(
        num_samples=input_config.num_samples,
        **cfg.front_end_args(input_config),
        convs_per_stage=cfg.convs_per_stage or 1,
        augment=input_config.augment,
        **common,
    )
