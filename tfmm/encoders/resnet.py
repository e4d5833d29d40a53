"""ResNet50 image encoder (keras.applications), average-pooled, without its top."""

import os
from dataclasses import dataclass
from typing import Literal, Optional

import keras

from tfmm.encoders.applications import backbone_outputs, check_batchnorm_momentum
from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, register_encoder
from tfmm.layers.image import CaffePreprocess


@keras.saving.register_keras_serializable(package="tfmm")
class ResNet50Encoder(Encoder):
    """RGB images [batch, height, width, 3] in [0, 255] -> [batch, 2048].

    ResNet's own `preprocess_input` runs inside the model (`CaffePreprocess`), so callers
    feed plain decoded pixels.

    Args:
        image_size: [height, width]. Input size (at least 32x32).
        weights: None (random), "imagenet" (downloads once, needs the network) or the
            path of a weights file (`.weights.h5` saved from a ResNet50 without top).
            Only used when the encoder is first built: a saved model stores its weights and
            reloads with `weights=None`.
        frozen: bool. Freeze the backbone (BatchNorm runs in inference mode).
        batchnorm_momentum: float or None. Override the BatchNorm layers' momentum.
        return_sequence: bool. Output the last feature map as a sequence of grid cells
            ({"sequence": [batch, h * w, 2048], "mask": all True}) instead of its average.

    Example:

    >>> import numpy as np
    >>> enc = ResNet50Encoder(image_size=[32, 32])
    >>> tuple(enc(np.zeros((1, 32, 32, 3), "float32")).shape)
    (1, 2048)
    """

    primary_input = "pixels"

    def __init__(self, image_size=(224, 224), weights=None, frozen=False,
                 batchnorm_momentum=None, return_sequence=False, **kwargs):
        image_size = list(image_size)
        if weights not in (None, "imagenet") and not os.path.exists(weights):
            raise FileNotFoundError(f"ResNet50 weights file not found. "
                                    f"Received: weights={weights!r}")
        # === Layers ===
        preprocess = CaffePreprocess(name="preprocess")
        backbone = keras.applications.ResNet50(
            include_top=False, weights="imagenet" if weights == "imagenet" else None,
            input_shape=(*image_size, 3), pooling=None if return_sequence else "avg",
            name="resnet50")
        pixels = keras.Input((*image_size, 3), dtype="float32", name="pixels")
        outputs = backbone_outputs(backbone, preprocess(pixels), weights, frozen,
                                   batchnorm_momentum, return_sequence)
        super().__init__(inputs=pixels, outputs=outputs, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.weights_source = weights
        self.frozen = frozen
        self.batchnorm_momentum = batchnorm_momentum
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        # The weights travel in the saved file; reloading must not download or read them.
        config.update({"image_size": self.image_size, "weights": None, "frozen": self.frozen,
                       "batchnorm_momentum": self.batchnorm_momentum,
                       "return_sequence": self.return_sequence})
        return config


@dataclass(frozen=True)
class ResNet50Config(EncoderSpec):
    """`keras.applications.ResNet50` without its top, average-pooled."""

    min_image_side, display_name = 32, "ResNet50"

    type: Literal["resnet50"] = "resnet50"
    # None (random init), "imagenet" (downloads), or a path to a weights file.
    weights: Optional[str] = None
    trainable: bool = True
    # BatchNorm moving-average momentum. Keras's 0.99 needs thousands of steps before the
    # inference statistics are right; a short run from scratch wants ~0.9.
    batchnorm_momentum: Optional[float] = None

    def validate(self, path):
        check_batchnorm_momentum(self, path)


@register_encoder("resnet50", config=ResNet50Config, modalities=("image",))
def build_resnet50(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    return ResNet50Encoder(image_size=list(input_config.image_hw), weights=cfg.weights,
                           frozen=not cfg.trainable,
                           batchnorm_momentum=cfg.batchnorm_momentum,
                           return_sequence=return_sequence, name=f"{input_config.name}_encoder")
