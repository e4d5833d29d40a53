"""Image encoder from a keras-hub vision preset: ViT, DINOv2, CLIP's or SigLIP's vision
tower, with the preset's pixel scaling inside the encoder."""

from dataclasses import dataclass
from typing import Literal, Optional

import keras
import numpy as np

from tfmm.encoders.base import Encoder
from tfmm.encoders.keras_hub_audio import build_keras_hub_audio
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.layers.sequence import FirstToken, SequenceMask
from tfmm.schema import ConfigError
from tfmm._extras import require


@keras.saving.register_keras_serializable(package="tfmm")
class KerasHubImageEncoder(Encoder):
    """RGB images [batch, height, width, 3] in [0, 255] -> [batch, hidden_dim] with a
    keras-hub vision backbone whose output is a token sequence [batch, tokens, hidden]
    (ViT, CLIP / SigLIP vision encoders, DINOv2) or a feature map [batch, h, w, c].

    Takes the backbone as a constructor argument and serialises it (keras-hub's composite
    style), so a saved model rebuilds it from its config and never re-reads the preset.

    Args:
        backbone: a keras-hub vision backbone (`keras.Model` on images).
        image_size: [height, width] the backbone takes.
        scale, offset: float or per-channel lists: pixels become `pixels * scale + offset`
            (the preset's image converter's; `scale=1/255, offset=0` for [0, 1]).
        pooling: "cls" (the first token), "mean" (the mean over tokens or cells).
        frozen: bool. Freeze the backbone.
        return_sequence: bool. Output {"sequence": the tokens or grid cells, "mask": all
            True} instead of the pooled vector.

    Example:

    >>> import keras_hub, numpy as np
    >>> vit = keras_hub.models.ViTBackbone(image_shape=(16, 16, 3), patch_size=8,
    ...     num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16)
    >>> enc = KerasHubImageEncoder(vit, image_size=[16, 16], pooling="cls")
    >>> tuple(enc(np.zeros((2, 16, 16, 3), "float32")).shape)
    (2, 8)
    """

    primary_input = "pixels"

    def __init__(
        self,
        backbone,
        image_size,
        scale=1 / 255.0,
        offset=0.0,
        pooling="cls",
        frozen=False,
        return_sequence=False,
        **kwargs,
    ):
        if pooling not in ("cls", "mean"):
            raise ValueError(
                f"KerasHubImageEncoder: pooling must be 'cls' or 'mean'. "
                f"Received: pooling={pooling!r}"
            )
        image_size = list(image_size)
        # === Layers ===
        if frozen:
            backbone.trainable = False
        rescale = keras.layers.Rescaling(
            np.asarray(scale, "float32").tolist(),
            np.asarray(offset, "float32").tolist(),
            name="preset_scaling",
        )

        # === Functional Model ===
        pixels = keras.Input((*image_size, 3), dtype="float32", name="pixels")
        images = rescale(pixels)
        if isinstance(backbone.input, dict):  # CLIP's vision encoder: {"images": ...}
            images = {next(iter(backbone.input)): images}
        out = backbone(images, training=False if frozen else None)
        if isinstance(out, dict):
            out = out.get("sequence_output", next(iter(out.values())))
        if len(out.shape) == 4:  # a feature map: its cells are the tokens
            h, w, c = out.shape[1:]
            out = keras.layers.Reshape((h * w, c), name="grid")(out)
            if pooling == "cls":
                raise ValueError(
                    "KerasHubImageEncoder: this backbone outputs a feature map "
                    "(no class token); use pooling='mean'."
                )
        if return_sequence:
            outputs = {"sequence": out, "mask": SequenceMask("all", name="mask")(out)}
        elif pooling == "cls":
            outputs = FirstToken(name="class_token")(out)
        else:
            outputs = keras.layers.GlobalAveragePooling1D(name="mean_pool")(out)
        super().__init__(inputs=pixels, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.image_size = image_size
        self.scale = np.asarray(scale, "float32").tolist()
        self.offset = np.asarray(offset, "float32").tolist()
        self.pooling = pooling
        self.frozen = frozen
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.backbone),
                "image_size": self.image_size,
                "scale": self.scale,
                "offset": self.offset,
                "pooling": self.pooling,
                "frozen": self.frozen,
                "return_sequence": self.return_sequence,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


def has_class_token(backbone):
    """Whether the backbone's first output token is a class token (ViT with
    `use_class_token`, CLIP's vision encoder), not a patch (SigLIP, feature maps)."""
    name = type(backbone).__name__
    if name == "ViTBackbone":
        return bool(getattr(backbone, "use_class_token", True))
    return name in (
        "CLIPVisionEncoder",
        "MetaCLIP2VisionEncoder",
        "DINOV2Backbone",
        "DINOV3Backbone",
    )


def preset_scaling(preset):
    """(scale, offset) of the preset's image converter; [0, 1] pixels if it has none."""
    keras_hub = require("keras_hub", "the keras_hub image encoder")

    try:
        converter = keras_hub.layers.ImageConverter.from_preset(preset)
    except (ValueError, FileNotFoundError, OSError):
        return 1 / 255.0, 0.0
    scale = 1.0 if converter.scale is None else converter.scale
    offset = 0.0 if converter.offset is None else converter.offset
    return scale, offset


@dataclass(frozen=True)
class KerasHubConfig(EncoderSpec):
    """A keras-hub backbone from a preset (`keras_hub.models.Backbone.from_preset`).

    Images: a vision backbone (ViT, DINOv2, or the vision tower of CLIP or SigLIP), with
    the preset's own pixel scaling (its image converter's scale and offset) inside the
    encoder; the input's `image_size` must be the preset's. `pooling`: "cls" (the class
    token), "mean" (of the patch tokens), or "auto" (the class token where the backbone
    has one). Audio: Moonshine's encoder, which reads the 16 kHz waveform; its frames
    are pooled by mean and maximum over the valid ones (`pooling` is not used).

    `preset` is a local preset directory or a Kaggle / Hugging Face handle (downloaded
    once), e.g. "vit_base_patch16_224_imagenet", "clip_vit_base_patch16",
    "siglip_base_patch16_224", "moonshine_base_en".
    """

    type: Literal["keras_hub"] = "keras_hub"
    # A keras-hub preset (required): a local preset directory or a handle such as
    # vit_base_patch16_224_imagenet, clip_vit_base_patch16, siglip_base_patch16_224,
    # moonshine_base_en.
    preset: Optional[str] = None
    # Images: "cls" (the class token), "mean" (of the patch tokens) or "auto" (the class token where
    # the backbone has one). Not used for audio.
    pooling: Literal["auto", "cls", "mean"] = "auto"
    # false freezes the backbone.
    trainable: bool = True

    def validate(self, path):
        if not self.preset:
            raise ConfigError(
                f"{path}.preset: a keras_hub encoder needs a preset (a preset "
                f"directory or a handle). Received: preset={self.preset!r}"
            )


@register_encoder("keras_hub", config=KerasHubConfig, modalities=("image", "audio"))
def build_keras_hub(input_config, vocabulary=None, return_sequence=False):
    """A vision backbone for an image input; Moonshine's encoder for an audio input
    (`keras_hub_audio`)."""
    if input_config.type == "audio":
        return build_keras_hub_audio(input_config, return_sequence=return_sequence)
    return build_keras_hub_image(input_config, return_sequence=return_sequence)


def build_keras_hub_image(input_config, return_sequence=False):
    keras_hub = require("keras_hub", "the keras_hub image encoder")

    cfg = input_config.encoder
    # A local preset directory or a Kaggle / Hugging Face handle (downloads once).
    backbone = keras_hub.models.Backbone.from_preset(cfg.preset)
    if hasattr(backbone, "vision_encoder"):  # CLIP, SigLIP: the vision tower
        backbone = backbone.vision_encoder
    shape = getattr(backbone, "image_shape", None)
    if (
        shape is not None
        and shape[0] is not None
        and tuple(shape[:2]) != tuple(input_config.image_hw)
    ):
        raise ValueError(
            f"input {input_config.name!r}: the preset {cfg.preset!r} takes "
            f"{shape[0]}x{shape[1]} images; set image_size: "
            f"[{shape[0]}, {shape[1]}]. Received: image_size="
            f"{list(input_config.image_hw)}"
        )
    pooling = cfg.pooling
    if pooling == "auto":
        pooling = "cls" if has_class_token(backbone) else "mean"
    scale, offset = preset_scaling(cfg.preset)
    return KerasHubImageEncoder(
        backbone,
        image_size=input_config.image_hw,
        scale=scale,
        offset=offset,
        pooling=pooling,
        frozen=not cfg.trainable,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
