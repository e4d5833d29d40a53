"""`inputs:` in a config: one input per modality column, and which encoders read which
modality.

The modality's own preprocessing options (image size, clip length, ...) live here, so
the data pipeline and every encoder of that modality read the same values. The encoder
types come from the encoder registry (`tfmm.encoders.register_encoder`).

Example:

>>> from tfmm.schema import build
>>> i = build(InputConfig, {"name": "photo", "type": "image", "image_size": [48, 64]}, "")
>>> i.encoder.type, i.image_hw, i.column
('cnn', (48, 64), 'photo')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Optional, Union

# The package imports every encoder module, each of which registers its config class.
from tfmm.encoders import ENCODER_CONFIGS, ENCODER_MODALITIES, EncoderSpec

# ... and every input type module (`tfmm.input_types`: fields, default encoders, columns).
from tfmm.input_types import INPUT_TYPES, input_type
from tfmm.schema import ConfigError, positive, tagged_union

# The `encoder:` key: its `type` picks the registered config class.
if TYPE_CHECKING:  # for a type checker, any registered encoder config
    EncoderConfig = EncoderSpec
else:
    EncoderConfig = tagged_union("EncoderConfig", ENCODER_CONFIGS)

# The encoders measured best from scratch on a few hundred examples (BENCHMARKS.md,
# quality and tables): compact CNNs for images and audio (ResNet50 from scratch collapses
# there), a TF-IDF bag of n-grams for text (chosen over textcnn on validation rows), an
# MLP for tables. A token-level fusion needs a text encoder with tokens: textcnn
# (`SEQUENCE_DEFAULT_ENCODER`; `tfmm.config.Config.resolve` picks).
DEFAULT_ENCODER = {name: kind.default_encoder for name, kind in INPUT_TYPES.items()}
SEQUENCE_DEFAULT_ENCODER = {
    name: kind.sequence_default_encoder
    for name, kind in INPUT_TYPES.items()
    if kind.sequence_default_encoder
}


def modality_encoders(modality):
    """The encoder types that can read a `modality` input, its default first."""
    default = INPUT_TYPES[modality].default_encoder
    return [default] + [
        name for name, kinds in ENCODER_MODALITIES.items() if modality in kinds and name != default
    ]


@dataclass(frozen=True)
class InputConfig:
    """One model input.

    Args:
        name: str. Name of the Keras input(s) and the `{name}_encoder` sublayer.
        type: "text" | "image" | "audio" | "tabular".
        column: str. Manifest column that holds the value (text) or file path (image,
            audio). Defaults to `name`. A tabular input reads `numeric` and
            `categorical` instead.
        encoder: mapping with a `type` key; defaults to the modality's default encoder.
        image_size: int or [height, width]. Images are resized to it (image inputs).
        resize: "plain" (stretch) or "pad" (keep aspect ratio, pad) (image inputs).
        jpeg_scale: "auto" or "full" (image inputs). "auto": a JPEG at least twice
            `image_size` is decoded straight to 1/2, 1/4 or 1/8 of its size (libjpeg's
            DCT scaling, the largest scale that still covers `image_size`), then
            resized: a 12 MP photo costs a fraction of a full decode. "full": every JPEG
            is decoded at full size. The exports and the ONNX/TFLite clients decode as
            training did.
        sample_rate: int. Hz the model expects (audio inputs).
        clip_seconds: float. Clips are cropped or zero-padded to this length; the padded
            part is masked (audio inputs).
        resample: bool. Resample WAVs whose rate differs, instead of refusing them.
        optional: bool. The modality may be missing: an empty cell (no text, no image or
            audio path) is accepted, in training and at prediction time, and the model
            gets an extra input `{name}_present` (float32 [batch], 1 = present, 0 =
            missing) instead of an error. A missing modality contributes nothing to the
            fused output.
        pair_column: str. Second text column packed into the same BERT input as segment
            1 (question + context, history + turn); bert encoders only.
        numeric: list of str. A tabular input's numeric columns (an empty cell is
            missing: imputed by the training median and flagged to the model).
        categorical: list of str. A tabular input's categorical columns (an empty cell
            is its own "missing" value; a category unseen in training reads as
            out-of-vocabulary, never an error).
        numeric_bins: int. Quantile bins of each numeric column's piecewise-linear
            encoding (tabular inputs).
        max_categories: int. Categories kept per categorical column, most frequent
            first; the rest share the out-of-vocabulary id (tabular inputs).
        min_category_count: int. A category seen in fewer training rows is read as
            out-of-vocabulary, so that id is trained (tabular inputs).
        augment: bool. Random augmentation inside the model, in training only (absent
            from evaluation, prediction and exports): images get a random horizontal
            flip, rotation (up to 18 degrees), zoom (up to 15%) and shift (up to 10%);
            audio gets SpecAugment time and frequency masks on its log-mel frames
            (cnn and lstm encoders); text gets token dropout (10% of the tokens become
            the out-of-vocabulary id; textcnn encoders).
    """

    name: str
    # One of the registered input types (`tfmm.input_types`), checked in `validate`.
    type: str
    column: Optional[str] = None
    encoder: Optional[EncoderConfig] = None
    image_size: Union[int, list[int]] = 224
    resize: Literal["plain", "pad"] = "plain"
    jpeg_scale: Literal["auto", "full"] = "auto"
    sample_rate: int = 16000
    clip_seconds: float = 1.0
    resample: bool = False
    optional: bool = False
    pair_column: Optional[str] = None
    augment: bool = False
    numeric: Optional[list[str]] = None
    categorical: Optional[list[str]] = None
    numeric_bins: int = 16
    max_categories: int = 256
    min_category_count: int = 2

    @property
    def image_hw(self) -> tuple[int, int]:
        if isinstance(self.image_size, int):
            return (self.image_size, self.image_size)
        height, width = self.image_size
        return (height, width)

    @property
    def columns(self) -> list[str]:
        """The manifest columns this input reads (the text and its `pair_column`; a
        tabular input's numeric then categorical columns)."""
        return input_type(self).columns(self)

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def validate(self, path):
        if not self.name.isidentifier():
            raise ConfigError(
                f"{path}.name: must be an identifier (letters, digits, "
                f"underscores). Received: name={self.name!r}"
            )
        if self.type not in INPUT_TYPES:
            raise ConfigError(
                f"{path}.type: must be one of {list(INPUT_TYPES)}. Received: {self.type!r}"
            )
        for modality, kind in INPUT_TYPES.items():
            if modality == self.type:
                continue
            for n in kind.fields:
                default = next(f.default for f in dataclasses.fields(self) if f.name == n)
                if getattr(self, n) != default:
                    raise ConfigError(
                        f"{path}.{n}: only applies to {modality} inputs, not "
                        f"{self.type}. Received: {n}={getattr(self, n)!r}"
                    )
        input_type(self).validate(self, path)
        encoder = self.encoder or self.default_encoder()
        allowed = modality_encoders(self.type)
        if encoder.type not in allowed:
            raise ConfigError(
                f"{path}.encoder.type: encoder {encoder.type!r} cannot "
                f"read a {self.type} input; allowed for {self.type}: "
                f"{list(allowed)}."
            )
        encoder.validate_for(self.type, f"{path}.encoder")
        if self.augment and self.type == "text" and not encoder.augments_tokens:
            raise ConfigError(
                f"{path}.augment: text augmentation (token dropout) works on "
                f"textcnn token ids only. Received: encoder.type="
                f"{encoder.type!r}"
            )
        if self.augment and self.type == "audio" and not encoder.augments_spectrogram:
            raise ConfigError(
                f"{path}.augment: audio augmentation (SpecAugment) works in "
                f"the cnn and lstm encoders only. Received: encoder.type="
                f"{encoder.type!r}"
            )
        if self.pair_column is not None and not encoder.packs_pairs:
            raise ConfigError(
                f"{path}.pair_column: only a bert encoder packs two text "
                f"fields into one input. Received: encoder.type="
                f"{encoder.type!r}"
            )
        if isinstance(self.image_size, list) and (
            len(self.image_size) != 2 or any(s <= 0 for s in self.image_size)
        ):
            raise ConfigError(
                f"{path}.image_size: must be an int or [height, width] of "
                f"positive ints. Received: image_size={self.image_size}"
            )
        if isinstance(self.image_size, int) and self.image_size <= 0:
            raise ConfigError(
                f"{path}.image_size: must be positive. Received: image_size={self.image_size}"
            )
        side = encoder.min_image_side
        if self.type == "image" and min(self.image_hw) < side:
            name = encoder.display_name or encoder.type
            raise ConfigError(
                f"{path}.image_size: {name} needs at least {side}x{side} pixels. "
                f"Received: image_size={self.image_size}"
            )
        positive(self, path, "sample_rate", "clip_seconds")
        frame_length = getattr(encoder, "frame_length", 0)  # a hub model frames itself
        if self.type == "audio" and frame_length > self.num_samples:
            raise ConfigError(
                f"{path}.clip_seconds: a clip of {self.num_samples} samples is "
                f"shorter than one frame ({encoder.frame_length} samples). "
                f"Received: clip_seconds={self.clip_seconds}"
            )

    def default_encoder(self, sequences=False):
        """The modality's default encoder's config (`DEFAULT_ENCODER`; under a token-level
        fusion, `sequences`, `SEQUENCE_DEFAULT_ENCODER` where it differs)."""
        kind = input_type(self)
        name = (kind.sequence_default_encoder if sequences else None) or kind.default_encoder
        return ENCODER_CONFIGS[name]()

    def resolve(self):
        """A copy with the defaults filled in: `column` (the name) and `encoder` (the
        modality's default; a text input's waits for `Config.resolve`, which knows
        whether the fusion needs token sequences)."""
        encoder = self.encoder
        if encoder is None and not input_type(self).sequence_default_encoder:
            encoder = self.default_encoder()
        return dataclasses.replace(
            self, column=input_type(self).resolve_column(self), encoder=encoder
        )
