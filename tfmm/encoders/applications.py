"""Image backbones from `keras.applications`, without their tops, average-pooled:
ResNet50, MobileNetV3 (small / large) and EfficientNetV2 (b0-b3). One encoder class
(`ApplicationEncoder`) for all of them; `ResNet50Encoder` is its ResNet50, kept as a class
of its own so the `.keras` files that name it load.

Each model's own preprocessing is inside the encoder (ResNet's caffe-style BGR mean
subtraction, `CaffePreprocess`; MobileNetV3's rescaling to [-1, 1]; EfficientNetV2-B*'s
ImageNet mean/std, as `TorchPreprocess`), so callers feed plain decoded pixels in
[0, 255], as for every tfmm image encoder.
"""

import os
from dataclasses import dataclass
from typing import Literal, Optional

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.schema import ConfigError
from tfmm.layers.image import CaffePreprocess, TorchPreprocess
from tfmm.layers.sequence import SequenceMask

# (encoder type, variant) -> keras.applications constructor name.
BACKBONES = {
    ("resnet", "50"): "ResNet50",
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

    def __init__(
        self,
        family,
        variant,
        image_size=(224, 224),
        weights=None,
        frozen=False,
        batchnorm_momentum=None,
        return_sequence=False,
        **kwargs,
    ):
        image_size = list(image_size)
        if (family, variant) not in BACKBONES:
            raise ValueError(
                f"unknown backbone {family} {variant!r}; known: "
                f"{sorted(v for f, v in BACKBONES if f == family)}"
            )
        if weights not in (None, "imagenet") and not os.path.exists(weights):
            raise FileNotFoundError(
                f"{family} weights file not found. Received: weights={weights!r}"
            )
        # === Layers ===
        build = getattr(keras.applications, BACKBONES[(family, variant)])
        options = dict(
            include_top=False,
            weights="imagenet" if weights == "imagenet" else None,
            input_shape=(*image_size, 3),
            pooling=None if return_sequence else "avg",
        )
        if family == "resnet":
            # ResNet's preprocess_input is a function outside the model: it runs inside.
            backbone = build(**options, name="resnet50")
            preprocess = CaffePreprocess(name="preprocess")
        else:
            # EfficientNetV2's own preprocessing is a Keras Normalization whose constants
            # do not convert to ONNX: the same arithmetic runs in TorchPreprocess before it.
            own = family != "efficientnet"
            backbone = build(**options, include_preprocessing=own)
            preprocess = None if own else TorchPreprocess(name="preprocess")
        pixels = keras.Input((*image_size, 3), dtype="float32", name="pixels")
        outputs = backbone_outputs(
            backbone,
            pixels if preprocess is None else preprocess(pixels),
            weights,
            frozen,
            batchnorm_momentum,
            return_sequence,
        )
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
        config.update(
            {
                "family": self.family,
                "variant": self.variant,
                "image_size": self.image_size,
                "weights": None,
                "frozen": self.frozen,
                "batchnorm_momentum": self.batchnorm_momentum,
                "return_sequence": self.return_sequence,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class ResNet50Encoder(ApplicationEncoder):
    """`ApplicationEncoder("resnet", "50")`: RGB images [batch, height, width, 3] in
    [0, 255] -> [batch, 2048], ResNet's own `preprocess_input` inside the model.

    Args:
        image_size, weights, frozen, batchnorm_momentum, return_sequence: as
            `ApplicationEncoder` (`weights`: a `.weights.h5` saved from a ResNet50
            without top).

    Example:

    >>> import numpy as np
    >>> enc = ResNet50Encoder(image_size=[32, 32])
    >>> tuple(enc(np.zeros((1, 32, 32, 3), "float32")).shape)
    (1, 2048)
    """

    def __init__(
        self,
        image_size=(224, 224),
        weights=None,
        frozen=False,
        batchnorm_momentum=None,
        return_sequence=False,
        **kwargs,
    ):
        super().__init__(
            "resnet",
            "50",
            image_size=image_size,
            weights=weights,
            frozen=frozen,
            batchnorm_momentum=batchnorm_momentum,
            return_sequence=return_sequence,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        del config["family"], config["variant"]
        return config


def backbone_outputs(backbone, x, weights, frozen, batchnorm_momentum, return_sequence):
    """A `keras.applications` backbone (built without top) on `x`: its weights file
    loaded, frozen (BatchNorm in inference mode) or not, BatchNorm momentum overridden,
    and its last feature map as {"sequence": grid cells, "mask"} with `return_sequence`
    (the backbone then has no pooling)."""
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


@dataclass(frozen=True)
class ApplicationSpec(EncoderSpec):
    """Keys every `keras.applications` backbone takes.

    Args:
        weights: None (random init), "imagenet" (downloads), or the path of a
            `.weights.h5` file saved from the same backbone without top.
        trainable: bool. False freezes the backbone (BatchNorm in inference mode).
        batchnorm_momentum: float or None. The BatchNorm layers' moving-average momentum.
            Keras's 0.99 needs thousands of steps before the inference statistics are
            right; a short run from scratch wants ~0.9.
    """

    min_image_side = 32
    #: `ApplicationEncoder`'s family; the config's `variant` (or `default_variant`) picks
    #: the model.
    family = default_variant = None

    weights: Optional[str] = None
    trainable: bool = True
    batchnorm_momentum: Optional[float] = None

    def validate(self, path):
        m = self.batchnorm_momentum
        if m is not None and not 0.0 < m < 1.0:
            raise ConfigError(
                f"{path}.batchnorm_momentum: must be in (0, 1) or null. "
                f"Received: batchnorm_momentum={m}"
            )


@dataclass(frozen=True)
class ResNet50Config(ApplicationSpec):
    """`keras.applications.ResNet50` without its top, average-pooled."""

    family, default_variant, display_name = "resnet", "50", "ResNet50"

    type: Literal["resnet50"] = "resnet50"


@dataclass(frozen=True)
class MobileNetConfig(ApplicationSpec):
    """`keras.applications.MobileNetV3Small` / `Large` without its top, average-pooled:
    a pretrained backbone of 1-3M parameters for small data."""

    family = "mobilenet"

    type: Literal["mobilenet"] = "mobilenet"
    # "small": MobileNetV3Small (about 1M parameters), "large": MobileNetV3Large (about 3M).
    variant: Literal["small", "large"] = "small"


@dataclass(frozen=True)
class EfficientNetConfig(ApplicationSpec):
    """`keras.applications.EfficientNetV2B0`..`B3` without its top, average-pooled."""

    family = "efficientnet"

    type: Literal["efficientnet"] = "efficientnet"
    # EfficientNetV2 B0 to B3 (7M to 14M parameters).
    variant: Literal["b0", "b1", "b2", "b3"] = "b0"


def build_application(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    options = dict(
        image_size=list(input_config.image_hw),
        weights=cfg.weights,
        frozen=not cfg.trainable,
        batchnorm_momentum=cfg.batchnorm_momentum,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
    if cfg.family == "resnet":
        return ResNet50Encoder(**options)
    return ApplicationEncoder(cfg.family, getattr(cfg, "variant", cfg.default_variant), **options)


for _config in (ResNet50Config, MobileNetConfig, EfficientNetConfig):
    register_encoder(_config.type, config=_config, modalities=("image",))(build_application)
