"""Small pretrained-capable image backbones from `keras.applications`: MobileNetV3
(small / large) and EfficientNetV2 (b0-b3), without their tops, average-pooled.

Each model's own preprocessing is inside the encoder (MobileNetV3's rescaling to [-1, 1];
EfficientNetV2-B*'s ImageNet mean/std, as `TorchPreprocess`), so callers feed plain
decoded pixels in [0, 255], as for every tfmm image encoder.
"""

import os
from dataclasses import dataclass
from typing import Literal, Optional

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, register_encoder
from tfmm.schema import ConfigError
from tfmm.layers.image import TorchPreprocess
from tfmm.layers.sequence import SequenceMask

# (encoder type, variant) -> keras.applications constructor name.
BACKBONES = {
    ("mobilenet", "small"): "MobileNetV3Small",
    ("mobilenet", "large"): "MobileNetV3Large",
    ("efficientnet", "b0"): "EfficientNetV2B0",
    ("efficientnet", "b1"): "EfficientNetV2B1",
    ("efficientnet", "b2"): "EfficientNetV2B2",
    ("efficientnet", "b3"): "EfficientNetV2B3",
}


@keras.saving.register_keras_serializable(package="tfmm")
class ApplicationEncoder(Encoder):
    """RGB images [batch, height, width, 3] in [0, 255] -> [batch, features] with a
    `keras.applications` backbone (see `BACKBONES`).

    Args:
        family: "mobilenet" or "efficientnet".
        variant: "small" / "large" (mobilenet), "b0".."b3" (efficientnet).
        image_size: [height, width] (at least 32x32).
        weights: None (random), "imagenet" (downloads once, needs the network) or the
            path of a weights file (`.weights.h5` saved from the same backbone without
            top, e.g. `keras.applications.MobileNetV3Small(include_top=False,
            weights=None, input_shape=...)`). Only used when first built: a saved model
            stores its weights and reloads with `weights=None`.
        frozen: bool. Freeze the backbone (BatchNorm in inference mode).
        batchnorm_momentum: float or None. Override the BatchNorm layers' momentum.
        return_sequence: bool. Output the last feature map's grid cells
            ({"sequence": [batch, h * w, features], "mask": all True}) instead of the mean.

    Example:

    >>> import numpy as np
    >>> enc = ApplicationEncoder("mobilenet", "small", image_size=[32, 32])
    >>> tuple(enc(np.zeros((1, 32, 32, 3), "float32")).shape)
    (1, 576)
    """

    primary_input = "pixels"

    def __init__(self, family, variant, image_size=(224, 224), weights=None, frozen=False,
                 batchnorm_momentum=None, return_sequence=False, **kwargs):
        image_size = list(image_size)
        if (family, variant) not in BACKBONES:
            raise ValueError(f"unknown backbone {family} {variant!r}; known: "
                             f"{sorted(v for f, v in BACKBONES if f == family)}")
        if weights not in (None, "imagenet") and not os.path.exists(weights):
            raise FileNotFoundError(f"{family} weights file not found. "
                                    f"Received: weights={weights!r}")
        # === Layers ===
        build = getattr(keras.applications, BACKBONES[(family, variant)])
        # EfficientNetV2's own preprocessing is a Keras Normalization whose constants do
        # not convert to ONNX: the same arithmetic runs in TorchPreprocess before it.
        own = family != "efficientnet"
        backbone = build(include_top=False,
                         weights="imagenet" if weights == "imagenet" else None,
                         input_shape=(*image_size, 3),
                         pooling=None if return_sequence else "avg",
                         include_preprocessing=own)
        preprocess = None if own else TorchPreprocess(name="preprocess")
        pixels = keras.Input((*image_size, 3), dtype="float32", name="pixels")
        outputs = backbone_outputs(backbone, pixels if preprocess is None
                                   else preprocess(pixels), weights, frozen,
                                   batchnorm_momentum, return_sequence)
        super().__init__(inputs=pixels, outputs=outputs, **kwargs)

        # === Config ===
        self.family = family
        self.variant = variant
        self.image_size = image_size
        self.weights_source = weights
        self.frozen = frozen
        self.batchnorm_momentum = batchnorm_momentum
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        # The weights travel in the saved file; reloading must not download or read them.
        config.update({"family": self.family, "variant": self.variant,
                       "image_size": self.image_size, "weights": None, "frozen": self.frozen,
                       "batchnorm_momentum": self.batchnorm_momentum,
                       "return_sequence": self.return_sequence})
        return config


def backbone_outputs(backbone, x, weights, frozen, batchnorm_momentum, return_sequence):
    """A `keras.applications` backbone (built without top) on `x`: its weights file
    loaded, frozen (BatchNorm in inference mode) or not, BatchNorm momentum overridden,
    and its last feature map as {"sequence": grid cells, "mask"} with `return_sequence`
    (the backbone then has no pooling). Shared by ResNet50, MobileNet and EfficientNet."""
    if weights not in (None, "imagenet"):
        backbone.load_weights(weights)
    if frozen:
        backbone.trainable = False
    if batchnorm_momentum is not None:
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = batchnorm_momentum
    outputs = backbone(x, training=False if frozen else None)
    if return_sequence:
        h, w, c = outputs.shape[1:]
        grid = keras.layers.Reshape((h * w, c), name="grid")(outputs)
        outputs = {"sequence": grid, "mask": SequenceMask("all", name="mask")(grid)}
    return outputs


def check_batchnorm_momentum(config, path):
    """`batchnorm_momentum` of a keras.applications backbone's config: null or in (0, 1)."""
    m = config.batchnorm_momentum
    if m is not None and not 0.0 < m < 1.0:
        raise ConfigError(f"{path}.batchnorm_momentum: must be in (0, 1) or null. "
                          f"Received: batchnorm_momentum={m}")


@dataclass(frozen=True)
class MobileNetConfig(EncoderSpec):
    """`keras.applications.MobileNetV3Small` / `Large` without its top, average-pooled:
    a pretrained backbone of 1-3M parameters for small data."""

    min_image_side = 32

    type: Literal["mobilenet"] = "mobilenet"
    variant: Literal["small", "large"] = "small"
    # None (random init), "imagenet" (downloads), or a path to a `.weights.h5` file.
    weights: Optional[str] = None
    trainable: bool = True
    batchnorm_momentum: Optional[float] = None

    def validate(self, path):
        check_batchnorm_momentum(self, path)


@dataclass(frozen=True)
class EfficientNetConfig(EncoderSpec):
    """`keras.applications.EfficientNetV2B0`..`B3` without its top, average-pooled."""

    min_image_side = 32

    type: Literal["efficientnet"] = "efficientnet"
    variant: Literal["b0", "b1", "b2", "b3"] = "b0"
    weights: Optional[str] = None
    trainable: bool = True
    batchnorm_momentum: Optional[float] = None

    def validate(self, path):
        check_batchnorm_momentum(self, path)


def _builder(family):
    def build(input_config, vocabulary=None, return_sequence=False):
        cfg = input_config.encoder
        return ApplicationEncoder(family, cfg.variant, image_size=list(input_config.image_hw),
                                  weights=cfg.weights, frozen=not cfg.trainable,
                                  batchnorm_momentum=cfg.batchnorm_momentum,
                                  return_sequence=return_sequence,
                                  name=f"{input_config.name}_encoder")
    build.__name__ = f"build_{family}"
    return build


build_mobilenet = register_encoder("mobilenet", config=MobileNetConfig,
                                   modalities=("image",))(_builder("mobilenet"))
build_efficientnet = register_encoder("efficientnet", config=EfficientNetConfig,
                                      modalities=("image",))(_builder("efficientnet"))
