"""Run configuration: YAML -> validated dataclasses, in one place.

A tfmm config names the model's inputs (one per modality column), how they are fused,
the outputs (heads), and how data, training and export run. It is validated once, when
loaded: an unknown key, a wrong type, an unknown encoder name or a missing required
field raises `ConfigError` naming the key path and listing what is allowed.

Example:

```python
import tfmm
config = tfmm.config_from_dict({
    "inputs": [
        {"name": "text", "type": "text", "encoder": {"type": "textcnn"}},
        {"name": "image", "type": "image", "image_size": 32,
         "encoder": {"type": "resnet50"}},
    ],
    "outputs": [{"name": "label", "type": "multiclass", "labels": ["a", "b"]}],
})
assert config.inputs[1].encoder.type == "resnet50"
```
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

import yaml

from tfmm.outputs import output_type


class ConfigError(ValueError):
    """A config is invalid. The message names the key path and what was received."""


# ============================================================================
# Encoders. One dataclass per encoder type; `ENCODER_CONFIGS` maps the config's
# `type` string to it, and `MODALITY_ENCODERS` says which modality may use which.
# The builders live in `tfmm.encoders` under the same names.
# ============================================================================


class EncoderSpec:
    """What differs between encoder types beyond their fields, asked of the encoder's
    config instead of branching on its `type` elsewhere."""

    #: How a text encoder gets its vocabulary: "adapted" (fitted to the training split's
    #: text), "wordpiece" (a WordPiece file or preset), or None.
    vocabulary_source = None
    #: Whether the encoder applies `inputs[].augment` for text / audio inputs (image
    #: augmentation works on the pixels, before any encoder).
    augments_tokens = augments_spectrogram = False
    #: Whether a bert-style tokenizer packs `pair_column` into the same input.
    packs_pairs = False
    #: The smallest image side a keras.applications backbone accepts (0: any).
    min_image_side = 0

    @property
    def pretrained(self):
        """Whether the encoder starts from pretrained weights (a weights file or preset)."""
        return bool(getattr(self, "weights", None) or getattr(self, "preset", None))


@dataclass
class TextCNNConfig(EncoderSpec):
    """Kim (2014) TextCNN over TextVectorization token ids."""

    vocabulary_source, augments_tokens = "adapted", True

    type: Literal["textcnn"] = "textcnn"
    vocab_size: int = 20000
    sequence_length: int = 64
    embedding_dim: int = 128
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 4, 5])
    filters: int = 100
    dropout: float = 0.5
    # "lower_and_strip_punctuation" (Keras's default) or "lower" or "none".
    standardize: Literal["lower_and_strip_punctuation", "lower", "none"] = (
        "lower_and_strip_punctuation"
    )

    def validate(self, path):
        _positive(self, path, "vocab_size", "sequence_length", "embedding_dim", "filters")
        if self.vocab_size < 3:
            raise ConfigError(f"{path}.vocab_size: must be at least 3 (padding, OOV and one "
                              f"token). Received: vocab_size={self.vocab_size}")
        if not self.kernel_sizes or any(k <= 0 for k in self.kernel_sizes):
            raise ConfigError(f"{path}.kernel_sizes: must be a non-empty list of positive "
                              f"ints. Received: kernel_sizes={self.kernel_sizes}")
        if max(self.kernel_sizes) > self.sequence_length:
            raise ConfigError(f"{path}.kernel_sizes: a kernel is longer than sequence_length="
                              f"{self.sequence_length}. Received: kernel_sizes={self.kernel_sizes}")
        _unit_interval(self, path, "dropout")


@dataclass
class BertConfig(EncoderSpec):
    """keras-hub BertBackbone, from a preset or from explicit sizes.

    With `preset` (a local preset directory or a Kaggle/HF handle) the backbone and its
    tokenizer come from the preset. Without it, the sizes below are used and `vocabulary`
    must name a WordPiece vocabulary file (one token per line).
    """

    vocabulary_source, packs_pairs = "wordpiece", True

    type: Literal["bert"] = "bert"
    preset: Optional[str] = None
    vocabulary: Optional[str] = None
    lowercase: bool = True
    num_layers: int = 2
    num_heads: int = 2
    hidden_dim: int = 128
    intermediate_dim: int = 512
    dropout: float = 0.1
    max_sequence_length: int = 512
    sequence_length: int = 128
    pooling: Literal["pooled", "mean"] = "pooled"
    trainable: bool = True
    lora_rank: Optional[int] = None

    def validate(self, path):
        if self.preset is None and self.vocabulary is None:
            raise ConfigError(f"{path}: a bert encoder needs either `preset` (a preset "
                              f"directory or handle) or `vocabulary` (a WordPiece vocabulary "
                              f"file). Received neither.")
        _positive(self, path, "num_layers", "num_heads", "hidden_dim", "intermediate_dim",
                  "sequence_length", "max_sequence_length")
        if self.hidden_dim % self.num_heads:
            raise ConfigError(f"{path}.hidden_dim: must be divisible by num_heads="
                              f"{self.num_heads}. Received: hidden_dim={self.hidden_dim}")
        if self.preset is None and self.sequence_length > self.max_sequence_length:
            raise ConfigError(f"{path}.sequence_length: must be <= max_sequence_length="
                              f"{self.max_sequence_length}. Received: "
                              f"sequence_length={self.sequence_length}")
        if self.lora_rank is not None and self.lora_rank <= 0:
            raise ConfigError(f"{path}.lora_rank: must be a positive int or null. "
                              f"Received: lora_rank={self.lora_rank}")
        _unit_interval(self, path, "dropout")


@dataclass
class HubConfig(EncoderSpec):
    """A TF Hub SavedModel (handle or local path) wrapped in `keras.layers.TFSMLayer`.

    The SavedModel must map one input tensor (strings for text, float images in [0, 1]
    for images, as TF Hub image modules expect) to a [batch, dim] vector, or to a dict of
    outputs of which `output_key` names the vector. For audio it takes one mono waveform
    [samples] and returns per-frame outputs [frames, dim], as YAMNet does
    (`handle: https://tfhub.dev/google/yamnet/1`, `output_key`: its embeddings output, as
    the signature names it, e.g. `output_1` or `embeddings`; a wrong key is refused with
    the outputs' names; `sample_rate: 16000` on the input); the frames inside each clip
    are pooled.
    """

    @property
    def pretrained(self):
        return True  # a published SavedModel

    type: Literal["hub"] = "hub"
    handle: str = ""
    output_key: Optional[str] = None
    signature: str = "serving_default"
    trainable: bool = False
    # Audio: seconds between the starts of the model's output frames (YAMNet: 0.48).
    frame_hop_seconds: float = 0.48

    def validate(self, path):
        if not self.handle:
            raise ConfigError(f"{path}.handle: required for a hub encoder (a TF Hub handle "
                              f"or a local SavedModel directory). Received: handle=''")


@dataclass
class ResNet50Config(EncoderSpec):
    """`keras.applications.ResNet50` without its top, average-pooled."""

    min_image_side = 32

    type: Literal["resnet50"] = "resnet50"
    # None (random init), "imagenet" (downloads), or a path to a weights file.
    weights: Optional[str] = None
    trainable: bool = True
    # BatchNorm moving-average momentum. Keras's 0.99 needs thousands of steps before the
    # inference statistics are right; a short run from scratch wants ~0.9.
    batchnorm_momentum: Optional[float] = None

    def validate(self, path):
        m = self.batchnorm_momentum
        if m is not None and not 0.0 < m < 1.0:
            raise ConfigError(f"{path}.batchnorm_momentum: must be in (0, 1) or null. "
                              f"Received: batchnorm_momentum={m}")


@dataclass
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
        ResNet50Config.validate(self, path)


@dataclass
class EfficientNetConfig(EncoderSpec):
    """`keras.applications.EfficientNetV2B0`..`B3` without its top, average-pooled."""

    min_image_side = 32

    type: Literal["efficientnet"] = "efficientnet"
    variant: Literal["b0", "b1", "b2", "b3"] = "b0"
    weights: Optional[str] = None
    trainable: bool = True
    batchnorm_momentum: Optional[float] = None

    def validate(self, path):
        ResNet50Config.validate(self, path)


@dataclass
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
    preset: Optional[str] = None
    pooling: Literal["auto", "cls", "mean"] = "auto"
    trainable: bool = True

    def validate(self, path):
        if not self.preset:
            raise ConfigError(f"{path}.preset: a keras_hub encoder needs a preset (a preset "
                              f"directory or a handle). Received: preset={self.preset!r}")


@dataclass
class LSTMAudioConfig(EncoderSpec):
    """Log-mel spectrogram front end (in the model) followed by LSTM layers."""

    augments_spectrogram = True

    type: Literal["lstm"] = "lstm"
    frame_length: int = 400
    frame_step: int = 160
    fft_length: int = 512
    num_mel_bins: int = 64
    lower_edge_hertz: float = 20.0
    upper_edge_hertz: Optional[float] = None
    units: list[int] = field(default_factory=lambda: [128])
    bidirectional: bool = False
    dropout: float = 0.0
    # cuDNN LSTM kernels: null = when on a GPU (Keras's "auto"), true, false. Exports
    # always rebuild with false (cuDNN kernels convert to neither ONNX nor a CPU server).
    use_cudnn: Optional[bool] = None

    def validate(self, path):
        _positive(self, path, "frame_length", "frame_step", "fft_length", "num_mel_bins")
        if self.fft_length < self.frame_length:
            raise ConfigError(f"{path}.fft_length: must be >= frame_length="
                              f"{self.frame_length}. Received: fft_length={self.fft_length}")
        if not self.units or any(u <= 0 for u in self.units):
            raise ConfigError(f"{path}.units: must be a non-empty list of positive ints. "
                              f"Received: units={self.units}")
        _unit_interval(self, path, "dropout")


@dataclass
class CNNConfig(EncoderSpec):
    """A compact CNN for small data (`tfmm.encoders.cnn`): on images directly, on audio
    over the log-mel spectrogram (time x frequency). The audio front-end keys apply to
    audio inputs only."""

    augments_spectrogram = True

    type: Literal["cnn"] = "cnn"
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    # Convolutions per stage; null = 2 for images, 1 for audio.
    convs_per_stage: Optional[int] = None
    norm: Literal["batch", "group", "none"] = "batch"
    dropout: float = 0.0
    frame_length: int = 400
    frame_step: int = 160
    fft_length: int = 512
    num_mel_bins: int = 64
    lower_edge_hertz: float = 20.0
    upper_edge_hertz: Optional[float] = None

    def validate(self, path):
        if not self.filters or any(f <= 0 for f in self.filters):
            raise ConfigError(f"{path}.filters: must be a non-empty list of positive ints. "
                              f"Received: filters={self.filters}")
        _positive(self, path, "convs_per_stage", "frame_length", "frame_step", "fft_length",
                  "num_mel_bins")
        if self.fft_length < self.frame_length:
            raise ConfigError(f"{path}.fft_length: must be >= frame_length="
                              f"{self.frame_length}. Received: fft_length={self.fft_length}")
        _unit_interval(self, path, "dropout")


EncoderConfig = Union[TextCNNConfig, BertConfig, HubConfig, ResNet50Config, MobileNetConfig,
                      EfficientNetConfig, KerasHubConfig, LSTMAudioConfig, CNNConfig]

ENCODER_CONFIGS: dict[str, type] = {
    "textcnn": TextCNNConfig,
    "bert": BertConfig,
    "hub": HubConfig,
    "resnet50": ResNet50Config,
    "mobilenet": MobileNetConfig,
    "efficientnet": EfficientNetConfig,
    "keras_hub": KerasHubConfig,
    "lstm": LSTMAudioConfig,
    "cnn": CNNConfig,
}

MODALITY_ENCODERS: dict[str, tuple[str, ...]] = {
    "text": ("textcnn", "bert", "hub"),
    "image": ("cnn", "resnet50", "mobilenet", "efficientnet", "keras_hub", "hub"),
    "audio": ("cnn", "lstm", "keras_hub", "hub"),
}

# The encoders measured best from scratch on a few hundred examples (BENCHMARKS.md,
# quality): compact CNNs for images and audio; ResNet50 from scratch collapses there.
DEFAULT_ENCODER = {"text": "textcnn", "image": "cnn", "audio": "cnn"}


# ============================================================================
# Inputs: one per modality column. The modality's own preprocessing options live
# here, so the data pipeline and every encoder of that modality read the same values.
# ============================================================================


@dataclass
class InputConfig:
    """One model input.

    Args:
        name: str. Name of the Keras input(s) and the `{name}_encoder` sublayer.
        type: "text" | "image" | "audio".
        column: str. Manifest column that holds the value (text) or file path (image,
            audio). Defaults to `name`.
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
        augment: bool. Random augmentation inside the model, in training only (absent
            from evaluation, prediction and exports): images get a random horizontal
            flip, rotation (up to 18 degrees), zoom (up to 15%) and shift (up to 10%);
            audio gets SpecAugment time and frequency masks on its log-mel frames
            (cnn and lstm encoders); text gets token dropout (10% of the tokens become
            the out-of-vocabulary id; textcnn encoders).
    """

    name: str
    type: Literal["text", "image", "audio"]
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

    # Which fields are meaningful for which modality; others must keep their default.
    _MODALITY_FIELDS = {
        "text": (),
        "image": ("image_size", "resize", "jpeg_scale"),
        "audio": ("sample_rate", "clip_seconds", "resample"),
    }

    @property
    def image_hw(self) -> tuple[int, int]:
        if isinstance(self.image_size, int):
            return (self.image_size, self.image_size)
        return tuple(self.image_size)

    @property
    def columns(self) -> list[str]:
        """The manifest columns this input reads (the text and its `pair_column`)."""
        return [self.column] + ([self.pair_column] if self.pair_column else [])

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def validate(self, path):
        if not self.name.isidentifier():
            raise ConfigError(f"{path}.name: must be an identifier (letters, digits, "
                              f"underscores). Received: name={self.name!r}")
        for modality, names in self._MODALITY_FIELDS.items():
            if modality == self.type:
                continue
            for n in names:
                default = next(f.default for f in dataclasses.fields(self) if f.name == n)
                if getattr(self, n) != default:
                    raise ConfigError(f"{path}.{n}: only applies to {modality} inputs, not "
                                      f"{self.type}. Received: {n}={getattr(self, n)!r}")
        if self.column is None:
            self.column = self.name
        if self.encoder is None:
            self.encoder = ENCODER_CONFIGS[DEFAULT_ENCODER[self.type]]()
        allowed = MODALITY_ENCODERS[self.type]
        if self.encoder.type not in allowed:
            raise ConfigError(f"{path}.encoder.type: encoder {self.encoder.type!r} cannot "
                              f"read a {self.type} input; allowed for {self.type}: "
                              f"{list(allowed)}.")
        if self.augment and self.type == "text" and not self.encoder.augments_tokens:
            raise ConfigError(f"{path}.augment: text augmentation (token dropout) works on "
                              f"textcnn token ids only. Received: encoder.type="
                              f"{self.encoder.type!r}")
        if self.augment and self.type == "audio" and not self.encoder.augments_spectrogram:
            raise ConfigError(f"{path}.augment: audio augmentation (SpecAugment) works in "
                              f"the cnn and lstm encoders only. Received: encoder.type="
                              f"{self.encoder.type!r}")
        if self.pair_column is not None and not self.encoder.packs_pairs:
            raise ConfigError(f"{path}.pair_column: only a bert encoder packs two text "
                              f"fields into one input. Received: encoder.type="
                              f"{self.encoder.type!r}")
        if isinstance(self.image_size, list) and (
                len(self.image_size) != 2 or any(s <= 0 for s in self.image_size)):
            raise ConfigError(f"{path}.image_size: must be an int or [height, width] of "
                              f"positive ints. Received: image_size={self.image_size}")
        if isinstance(self.image_size, int) and self.image_size <= 0:
            raise ConfigError(f"{path}.image_size: must be positive. "
                              f"Received: image_size={self.image_size}")
        side = self.encoder.min_image_side
        if self.type == "image" and min(self.image_hw) < side:
            name = {"resnet50": "ResNet50"}.get(self.encoder.type, self.encoder.type)
            raise ConfigError(f"{path}.image_size: {name} needs at least {side}x{side} pixels. "
                              f"Received: image_size={self.image_size}")
        _positive(self, path, "sample_rate", "clip_seconds")
        frame_length = getattr(self.encoder, "frame_length", 0)  # a hub model frames itself
        if self.type == "audio" and frame_length > self.num_samples:
            raise ConfigError(f"{path}.clip_seconds: a clip of {self.num_samples} samples is "
                              f"shorter than one frame ({self.encoder.frame_length} samples). "
                              f"Received: clip_seconds={self.clip_seconds}")


# ============================================================================
# Fusion and outputs.
# ============================================================================


@dataclass
class FusionBase:
    """Options every fusion strategy shares (robustness and extra training signals).

    Args:
        modality_dropout: float. During training, each modality of each example is
            dropped (its presence set to 0) with this probability; an example never loses
            all of its modalities. Teaches the model to cope with a missing modality, and
            every branch to carry the label on its own (default 0.3; 0 turns it off).
        auxiliary_loss_weight: float. When > 0, every output also gets one auxiliary head
            per input, on that modality alone (model outputs `{output}_aux_{input}`),
            trained with this fraction of the output's loss weight. The fused heads stay
            the model's outputs for prediction and export.
        balance: "none" or "gradient_blending". Gradient-Blending (Wang, Tran and
            Feiszli, CVPR 2020): after every epoch each auxiliary head's weight is set
            from its overfitting-to-generalisation ratio on the validation split (how
            much its validation loss fell, over the square of how much its gap to the
            training loss grew), so a modality that starts to memorise pushes its
            encoder less. Needs `auxiliary_loss_weight` > 0 (the largest weight) and a
            validation split.
    """

    # 0.3: on hard data where each modality alone is right on only part of the rows,
    # the fused model without it fell below its own audio branch (0.784 against 0.849;
    # the text branch learns first, and the rest is memorised instead of read from the
    # audio); with it, 0.882 (BENCHMARKS.md, quality). A one-input model never drops.
    modality_dropout: float = 0.3
    auxiliary_loss_weight: float = 0.0
    balance: Literal["none", "gradient_blending"] = "none"

    def validate(self, path):
        _unit_interval(self, path, "modality_dropout")
        if self.auxiliary_loss_weight < 0:
            raise ConfigError(f"{path}.auxiliary_loss_weight: must be >= 0. Received: "
                              f"auxiliary_loss_weight={self.auxiliary_loss_weight}")
        if self.balance == "gradient_blending" and not self.auxiliary_loss_weight:
            raise ConfigError(f"{path}.balance: gradient_blending weighs the auxiliary "
                              f"per-modality heads; set {path}.auxiliary_loss_weight > 0 "
                              f"(for example 0.5). Received: auxiliary_loss_weight=0")
        if getattr(self, "hidden_units", None) and any(u <= 0 for u in self.hidden_units):
            raise ConfigError(f"{path}.hidden_units: must be positive ints. "
                              f"Received: hidden_units={self.hidden_units}")
        if hasattr(self, "dropout"):
            _unit_interval(self, path, "dropout")
        if hasattr(self, "dim"):
            _positive(self, path, "dim")
        if hasattr(self, "num_heads"):
            _positive(self, path, "num_heads")
            if self.dim % self.num_heads:
                raise ConfigError(f"{path}.dim: must be divisible by num_heads="
                                  f"{self.num_heads}. Received: dim={self.dim}")


@dataclass
class ConcatFusionConfig(FusionBase):
    """Concatenate the per-modality vectors, then Dense/Dropout layers."""

    type: Literal["concat"] = "concat"
    hidden_units: list[int] = field(default_factory=lambda: [256])
    dropout: float = 0.2
    activation: str = "relu"
    # LayerNormalization on each modality vector before the Concatenate, so that a wide
    # branch (ResNet's 2048 dims) cannot swamp a narrow one at the start of training.
    normalize: bool = True


@dataclass
class GatedFusionConfig(FusionBase):
    """Each modality vector projected to `dim`; a softmax gate computed from all of them
    weighs the projections per example; their weighted sum (`combine: sum`, the gated
    multimodal unit) or the concatenation of the weighted projections (`combine: concat`,
    which keeps each modality's features apart) goes through `hidden_units`.
    The gate weights are the `fusion_gate` layer's output (see
    `tfmm.models.inspection_model`) and an extra output of every export."""

    type: Literal["gated"] = "gated"
    combine: Literal["sum", "concat"] = "sum"
    dim: int = 256
    hidden_units: list[int] = field(default_factory=lambda: [256])
    dropout: float = 0.2
    activation: str = "relu"
    # LayerNormalization on each modality vector first (see concat's `normalize`).
    normalize: bool = True


@dataclass
class CrossAttentionFusionConfig(FusionBase):
    """Token-level fusion: the `query` input's sequence attends to every other input's
    sequence (BERT/TextCNN tokens, the ResNet feature grid, LSTM frames) with
    `MultiHeadAttention`, residual and layer norm; each sequence is then mean-pooled over
    its valid tokens and the pooled vectors are concatenated. Each projected sequence is
    layer-normalised, so ResNet's large activations cannot swamp the attention."""

    type: Literal["cross_attention"] = "cross_attention"
    # Input whose tokens are the queries; default: the first text input, else the first.
    query: Optional[str] = None
    dim: int = 128
    num_heads: int = 4
    num_layers: int = 1
    hidden_units: list[int] = field(default_factory=lambda: [256])
    dropout: float = 0.1
    activation: str = "relu"


@dataclass
class SingleStreamFusionConfig(FusionBase):
    """All modalities' tokens projected to `dim`, a learned modality-type embedding added,
    concatenated into one sequence and run through keras-hub `TransformerEncoder` layers,
    then mean-pooled over the valid tokens. Each projected sequence is layer-normalised
    before the type embedding is added."""

    type: Literal["single_stream"] = "single_stream"
    dim: int = 128
    num_heads: int = 4
    num_layers: int = 2
    intermediate_dim: int = 256
    hidden_units: list[int] = field(default_factory=list)
    dropout: float = 0.1
    activation: str = "relu"

    def validate(self, path):
        super().validate(path)
        _positive(self, path, "num_layers", "intermediate_dim")


@dataclass
class LateFusionConfig(FusionBase):
    """One head per modality (its own `hidden_units`); the heads' logits are averaged
    over the modalities present (`combine: mean`) or weighted by learned softmax weights
    (`combine: learned`), then the output activation is applied."""

    type: Literal["late"] = "late"
    combine: Literal["mean", "learned"] = "mean"
    hidden_units: list[int] = field(default_factory=lambda: [64])
    dropout: float = 0.2
    activation: str = "relu"
    # LayerNormalization on each modality vector first (see concat's `normalize`).
    normalize: bool = True


FusionConfig = Union[ConcatFusionConfig, GatedFusionConfig, CrossAttentionFusionConfig,
                     SingleStreamFusionConfig, LateFusionConfig]

FUSION_CONFIGS: dict[str, type] = {
    "concat": ConcatFusionConfig,
    "gated": GatedFusionConfig,
    "cross_attention": CrossAttentionFusionConfig,
    "single_stream": SingleStreamFusionConfig,
    "late": LateFusionConfig,
}


@dataclass
class OutputConfig:
    """One head of the model.

    Args:
        name: str. Output name (the key of `model.outputs` and of the losses).
        type: "multiclass" (softmax), "binary" (one sigmoid), "multilabel" (a sigmoid per
            label) or "regression" (linear).
        column: str. Manifest column of the target; defaults to `name`. Multilabel rows
            hold labels separated by `label_separator`.
        labels: list of label strings. If omitted, taken from the training split.
        num_targets: int. Width of a regression output.
        loss_weight: float. Weight of this head's loss.
    """

    name: str
    type: Literal["multiclass", "binary", "multilabel", "regression"] = "multiclass"
    column: Optional[str] = None
    labels: Optional[list[str]] = None
    num_targets: int = 1
    label_separator: str = "|"
    loss_weight: float = 1.0

    def validate(self, path):
        if not self.name.isidentifier():
            raise ConfigError(f"{path}.name: must be an identifier (letters, digits, "
                              f"underscores). Received: name={self.name!r}")
        if self.column is None:
            self.column = self.name
        if self.labels is not None:
            if len(set(self.labels)) != len(self.labels):
                raise ConfigError(f"{path}.labels: labels must be unique. "
                                  f"Received: labels={self.labels}")
            kind = output_type(self.type)
            if not kind.has_labels:
                raise ConfigError(f"{path}.labels: a {self.type} output has no labels. "
                                  f"Received: labels={self.labels}")
            rule = kind.label_count_rule(self.labels)
            if rule:
                verb = "has" if rule.startswith("exactly") else "needs"
                raise ConfigError(f"{path}.labels: a {self.type} output {verb} {rule} labels"
                                  f"{' (negative first)' if self.type == 'binary' else ''}. "
                                  f"Received: labels={self.labels}")
        _positive(self, path, "num_targets")

    @property
    def units(self) -> Optional[int]:
        """Width of the head, or None while labels are still unknown."""
        return output_type(self.type).units(self)


# ============================================================================
# Data, training, export.
# ============================================================================


@dataclass
class DataConfig:
    """Where the examples are and how the tf.data pipeline reads them.

    `train`, `val` and `test` are manifests (.csv / .jsonl), TFRecord globs
    (`shards/train-*.tfrecord`) or `tfds:NAME/SPLIT`. Relative paths are resolved
    against the config file's folder.
    """

    train: Optional[str] = None
    val: Optional[str] = None
    test: Optional[str] = None
    batch_size: int = 32
    # Manifests are shuffled fully each epoch (a permutation seeded by `seed`); the buffer
    # is for TFRecord and TFDS sources, and for manifests with `cache: true`.
    shuffle_buffer: int = 1024
    seed: int = 0
    # Decoded examples kept from the first epoch, so later epochs decode nothing:
    # false or "none": no cache; true or "memory": in memory (the decoded split must fit:
    # an image is height x width x 3 x 4 bytes, a clip 4 bytes a sample); a folder: on
    # disk (a tf.data snapshot per split and preprocessing, reused by later runs; a run
    # killed mid-epoch leaves no half-written cache in use). A relative folder resolves
    # against the config's folder. Augmentation runs in the model, after the cache.
    cache: Union[bool, str] = False
    deterministic: bool = False
    on_bad_example: Literal["fail", "skip"] = "fail"
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
    max_audio_seconds: float = 600.0
    # When set, every media path (relative or absolute, after symlinks) must resolve
    # inside this folder; others are bad examples. None: any readable path.
    media_root: Optional[str] = None
    # grpc://HOST:PORT of a tf.data service dispatcher (`tfmm data serve`): the training
    # pipeline's reading and decoding run on its workers, each example once per epoch.
    # None: in this process.
    service: Optional[str] = None

    @property
    def cache_mode(self) -> str:
        """"none", "memory" or "disk" (`cache` names a folder)."""
        if self.cache in (False, "none"):
            return "none"
        return "memory" if self.cache in (True, "memory") else "disk"

    def validate(self, path):
        _positive(self, path, "batch_size", "max_file_mb", "max_image_megapixels",
                  "max_audio_seconds")
        if self.cache == "":
            raise ConfigError(f"{path}.cache: expected true, false, 'none', 'memory' or a "
                              f"folder. Received: ''".lstrip("."))
        if self.service is not None:
            from tfmm.data.service import check_address

            try:
                check_address(self.service, f"{path}.service".lstrip("."))
            except ValueError as e:
                raise ConfigError(str(e)) from None


@dataclass
class TrainingConfig:
    """`model.fit` settings."""

    epochs: int = 10
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    # 3e-3, not Keras's usual 1e-3: from-scratch encoders of a fused model on a few
    # hundred rows learn the slower modalities' parts of the label only at the higher
    # rate within a short run (BENCHMARKS.md, quality).
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    lr_schedule: Literal["constant", "cosine"] = "constant"
    strategy: Literal["auto", "default", "one_device", "mirrored", "multiworker", "tpu"] = "auto"
    mixed_precision: bool = False
    jit_compile: bool = False
    # Linear warmup from 0 to learning_rate over this many epochs (fractions allowed),
    # then the lr_schedule. "auto": 1 epoch for the token-level fusions (single_stream,
    # cross_attention), whose attention blocks stayed at chance on hard data at AdamW
    # 3e-3 without it, else 0 (BENCHMARKS.md, quality).
    warmup_epochs: Union[float, Literal["auto"]] = "auto"
    # Multiclass targets become (1 - s) one-hot + s / classes; binary and multilabel
    # targets move s / 2 towards 0.5. Regression heads ignore it.
    label_smoothing: float = 0.0
    # The value whose best epoch `restore_best`, early stopping and LR reduction follow.
    # "auto": the validation accuracy of the first multiclass or binary output (val_loss
    # when there is none). On small data a model that memorises its training rows sees
    # its val_loss rise for its overconfident misses while its val accuracy still climbs:
    # the best val_loss epoch came 3-6 epochs before the best accuracy on the hard data
    # (BENCHMARKS.md, quality).
    monitor: str = "auto"
    # At the end of training the model takes the weights of its best epoch on `monitor`
    # (best.keras), so model.keras, the test metrics, evaluate and export use them.
    restore_best: bool = True
    early_stopping_patience: Optional[int] = None
    reduce_lr_patience: Optional[int] = None
    steps_per_epoch: Optional[int] = None
    # Fine-tuning recipe: encoders with pretrained weights (resnet50 `weights`, bert
    # `preset`, trainable hub models) are frozen for the first N epochs, then unfrozen and
    # trained on at `finetune_learning_rate` (default: learning_rate / 10).
    freeze_pretrained_epochs: int = 0
    finetune_learning_rate: Optional[float] = None
    # A `tfmm pretrain` run directory (or a finished `tfmm train` run): its encoders'
    # weights initialise the encoders of the same names, and its textcnn vocabularies
    # replace adapting new ones.
    init_from: Optional[str] = None

    def validate(self, path):
        _positive(self, path, "epochs", "learning_rate")
        if self.warmup_epochs != "auto" and not 0 <= self.warmup_epochs <= self.epochs:
            raise ConfigError(f"{path}.warmup_epochs: must be between 0 and epochs "
                              f"({self.epochs}). Received: warmup_epochs={self.warmup_epochs}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"{path}.label_smoothing: must be in [0, 1). Received: "
                              f"label_smoothing={self.label_smoothing}")
        if not 0 <= self.freeze_pretrained_epochs <= self.epochs:
            raise ConfigError(f"{path}.freeze_pretrained_epochs: must be between 0 and "
                              f"epochs ({self.epochs}). Received: "
                              f"freeze_pretrained_epochs={self.freeze_pretrained_epochs}")
        if self.finetune_learning_rate is not None and self.finetune_learning_rate <= 0:
            raise ConfigError(f"{path}.finetune_learning_rate: must be > 0. Received: "
                              f"finetune_learning_rate={self.finetune_learning_rate}")


@dataclass
class Config:
    """A whole tfmm run: inputs, fusion, outputs, data, training."""

    inputs: list[InputConfig]
    outputs: list[OutputConfig]
    name: str = "tfmm"
    fusion: FusionConfig = field(default_factory=ConcatFusionConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    # Folder that relative paths in `data` are resolved against (set by load_config).
    base_dir: Optional[str] = None

    def validate(self, path):
        if not self.inputs:
            raise ConfigError(f"{path}inputs: at least one input is required. Received: []")
        if not self.outputs:
            raise ConfigError(f"{path}outputs: at least one output is required. Received: []")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name) or ".." in self.name:
            raise ConfigError(f"{path}name: names the run's folder under runs/: letters, "
                              f"digits, '.', '_' and '-', no '/' or '..'. Received: "
                              f"name={self.name!r}")
        _unique([i.name for i in self.inputs], "inputs", "input name")
        _unique([o.name for o in self.outputs], "outputs", "output name")
        readers = {}
        for i in self.inputs:
            column = i.column or i.name
            other = readers.setdefault(column, i)
            if other is not i and other.type != i.type:
                raise ConfigError(f"inputs: {other.name!r} ({other.type}) and {i.name!r} "
                                  f"({i.type}) both read column {column!r}; one column holds "
                                  f"one kind of value. Set `column` on one of them.")
        clash = {i.name for i in self.inputs} & {o.name for o in self.outputs}
        if clash:
            raise ConfigError(f"outputs: names {sorted(clash)} are also input names; "
                              f"Keras inputs and outputs need distinct names.")
        if self.fusion.type == "cross_attention":
            query = self.fusion.query
            if query is None:
                texts = [i.name for i in self.inputs if i.type == "text"]
                self.fusion.query = (texts or [self.inputs[0].name])[0]
            elif query not in [i.name for i in self.inputs]:
                raise ConfigError(f"fusion.query: no input named {query!r}; inputs: "
                                  f"{[i.name for i in self.inputs]}. Received: "
                                  f"query={query!r}")

    def auxiliary_outputs(self) -> list[tuple[str, "OutputConfig", str]]:
        """[(model output name, output config, input name)] of the auxiliary per-modality
        heads (`fusion.auxiliary_loss_weight` > 0), in output then input order."""
        if not self.fusion.auxiliary_loss_weight:
            return []
        return [(f"{o.name}_aux_{i.name}", o, i.name) for o in self.outputs
                for i in self.inputs]

    def input(self, name: str) -> InputConfig:
        for i in self.inputs:
            if i.name == name:
                return i
        raise KeyError(f"no input named {name!r}; inputs: {[i.name for i in self.inputs]}")

    def resolve_path(self, p: Optional[str]) -> Optional[str]:
        if p is None or os.path.isabs(p) or p.startswith("tfds:") or self.base_dir is None:
            return p
        return os.path.join(self.base_dir, p)

    def to_dict(self, absolute_paths: bool = False) -> dict:
        """The config as a plain dict (what YAML holds).

        With `absolute_paths`, every relative path (data splits, `training.init_from`,
        encoder weights, presets, vocabularies and SavedModels that exist) is resolved
        against `base_dir` (the working directory when None), so the dict means the same
        wherever it is saved (a run directory's config.yaml)."""
        d = dataclasses.asdict(self)
        d.pop("base_dir")
        if absolute_paths:
            for key in ("train", "val", "test", "tfds_data_dir", "media_root"):
                d["data"][key] = _absolute(self.resolve_path(d["data"][key]))
            d["training"]["init_from"] = _absolute(
                self.resolve_path(d["training"]["init_from"]))
            for i in d["inputs"]:
                for key in ("weights", "preset", "vocabulary", "handle"):
                    value = i["encoder"].get(key)
                    if isinstance(value, str) and value and not os.path.isabs(value) and \
                            os.path.exists(self.resolve_path(value)):
                        i["encoder"][key] = _absolute(self.resolve_path(value))
        return d


def _absolute(p: Optional[str]) -> Optional[str]:
    if p is None or p.startswith("tfds:"):
        return p
    return os.path.abspath(p)


# ============================================================================
# Loading and validation.
# ============================================================================

# Discriminated unions: the `type` key picks the dataclass.
_TAGGED_UNIONS = {EncoderConfig: ENCODER_CONFIGS, FusionConfig: FUSION_CONFIGS}


def load_config(path: str, overrides: Optional[list[str]] = None) -> Config:
    """Loads and validates a YAML config.

    Args:
        path: str. Path of the YAML file.
        overrides: list of `"dotted.key=value"` strings (values parsed as YAML) applied
            before validation, e.g. `["training.epochs=2", "inputs.text.encoder.filters=8"]`.
            List items may be addressed by index or by their `name`.

    Returns:
        A validated `Config` whose `base_dir` is the file's folder.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path!r}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path!r} is not valid YAML: {e}") from None
    if data is None:
        data = {}
    config = config_from_dict(data, overrides=overrides, source=path)
    config.base_dir = os.path.dirname(os.path.abspath(path))
    return config


def config_from_dict(data: dict, overrides: Optional[list[str]] = None,
                     source: str = "config") -> Config:
    """Validates a config given as a (YAML-like) dict. See `load_config`."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides or []:
        apply_override(data, item)
    try:
        return _build(Config, data, "")
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def apply_override(data: dict, item: str) -> None:
    """Applies one `key.path=value` override to a raw config dict, in place."""
    if "=" not in item:
        raise ConfigError(f"--set expects key=value. Received: {item!r}")
    key, raw = item.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else ""
    if isinstance(value, str):
        # YAML 1.1 reads "1e-3" as a string; on the command line it means a number.
        try:
            value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf") \
                else value
        except ValueError:
            pass
    parts = key.strip().split(".")
    node = data
    where = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where.append(part)
        if isinstance(node, list):
            idx = _list_index(node, part, ".".join(where))
            if last:
                node[idx] = value
            else:
                node = node[idx]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {'.'.join(where[:-1])} is not a mapping or list.")
        if last:
            node[part] = value
        else:
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]


def _list_index(node: list, part: str, where: str) -> int:
    if part.lstrip("-").isdigit():
        idx = int(part)
        if not -len(node) <= idx < len(node):
            raise ConfigError(f"--set {where}: index out of range for a list of {len(node)}.")
        return idx
    names = [x.get("name") for x in node if isinstance(x, dict)]
    if part in names:
        return names.index(part)
    raise ConfigError(f"--set {where}: no item named {part!r}; names: {names}.")


def _build(cls, data: Any, path: str):
    """Builds dataclass `cls` from `data`, checking keys and types along `path`."""
    where = path.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping. Received: {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "base_dir"}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}{key}: unknown key.{hint} Allowed keys: "
                              f"{sorted(fields)}.")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], f"{path}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}{name}: required key is missing.")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate(path[:-1] if path.endswith(".") else path)
    return obj


def _coerce(hint, value, path: str):
    """Checks `value` against type `hint`, converting where lossless (int -> float)."""
    if hint in _TAGGED_UNIONS:
        table = _TAGGED_UNIONS[hint]
        if isinstance(value, str):  # `encoder: textcnn` is short for `{type: textcnn}`.
            value = {"type": value}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping with a `type` key. "
                              f"Received: {value!r}")
        kind = value.get("type")
        if kind not in table:
            raise ConfigError(f"{path}.type: unknown type {kind!r}; allowed: {sorted(table)}.")
        return _build(table[kind], value, path + ".")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        rest = tuple(a for a in args if a is not type(None))
        if len(rest) > 1 and Union[rest] in _TAGGED_UNIONS:
            return _coerce(Union[rest], value, path)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, path)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        names = [_type_name(a) for a in args if a is not type(None)]
        raise ConfigError(f"{path}: expected {' or '.join(names)}. Received: {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: must be one of {list(args)}. Received: {value!r}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list. Received: {value!r}")
        return [_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping. Received: {value!r}")
        return {_coerce(args[0], k, f"{path}"): _coerce(args[1], v, f"{path}.{k}")
                for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path + ".")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false. Received: {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an int. Received: {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number. Received: {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string. Received: {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint!r} at {path}")  # a bug in this module


def _type_name(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is list:
        return "a list"
    if origin is Literal:
        return f"one of {list(typing.get_args(hint))}"
    return {int: "an int", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _positive(obj, path, *names):
    for n in names:
        v = getattr(obj, n)
        if v is not None and v <= 0:
            raise ConfigError(f"{path}.{n}: must be positive. Received: {n}={v}".lstrip("."))


def _unit_interval(obj, path, name):
    v = getattr(obj, name)
    if not 0.0 <= v < 1.0:
        raise ConfigError(f"{path}.{name}: must be in [0, 1). Received: {name}={v}")


def _unique(names, path, what):
    seen = set()
    for n in names:
        if n in seen:
            raise ConfigError(f"{path}: duplicate {what} {n!r}. Received: {names}")
        seen.add(n)
