"""Encoder registry: the config's `encoder.type` string -> its config class and builder.

Each encoder module defines its config dataclass (an `EncoderSpec`) next to its builder
and registers both in one call:

    @register_encoder("textcnn", config=TextCNNConfig, modalities=("text",))
    def build_textcnn(input_config, vocabulary=None, return_sequence=False): ...

A builder takes `(input_config, vocabulary=None, return_sequence=False)` and returns an
`Encoder` named `encoder_name(input_config)` (`{input_name}_encoder`; the rest of tfmm
finds an input's encoder in a model by that name and no other way). `tfmm.config` reads
`ENCODER_CONFIGS` (the `encoder:` key's choices) and `ENCODER_MODALITIES` (which input
types may use which). Nothing here imports Keras.
"""

from tfmm._registry import ComponentRegistry

_ENCODERS = ComponentRegistry("encoder")
ENCODERS = _ENCODERS.builders
ENCODER_CONFIGS = _ENCODERS.configs
ENCODER_MODALITIES = {}


class EncoderSpec:
    """The base of every encoder's config dataclass: what differs between encoder types
    beyond their fields, asked of the config instead of branching on its `type`."""

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
    #: The encoder's name in messages.
    display_name = None
    #: Whether `tfmm pretrain --objective mlm` can pretrain it (a masked language model).
    pretrains_masked_lm = False
    #: Why TFLite cannot convert it (refused by name at export), or None.
    tflite_refusal = None
    #: Whether it has a token sequence for the token-level fusions.
    has_tokens = True
    #: The optimizer this encoder trains best with from scratch, for `training.optimizer:
    #: auto` (with the learning rate left to it too): "sgd" for a bag of n-grams, whose
    #: rare n-grams AdamW's per-weight step sizes let memorise the training rows
    #: (BENCHMARKS.md, tables); "adamw" for the deep encoders; None: either (the table's
    #: MLP, which has no rare n-grams to memorise and trains beside the bag of n-grams
    #: under SGD in the tables benchmark). auto is sgd when some encoder says "sgd" and
    #: none says "adamw", else adamw.
    trains_with = "adamw"

    def onnx_refusal(self, input_type):
        """Why an `input_type` input with this encoder is not converted to ONNX, or None."""
        return None

    def for_export(self):
        """The config to rebuild the encoder with for export (the same by default)."""
        return self

    @property
    def pretrained(self):
        """Whether the encoder starts from pretrained weights (a weights file or preset)."""
        return bool(getattr(self, "weights", None) or getattr(self, "preset", None))

    def validate(self, path):
        """Checks the fields' values (their types are already checked); raises
        `tfmm.schema.ConfigError` naming `path`."""

    def validate_for(self, input_type, path):
        """Checks the fields that depend on the input's type ("image", "audio", ...);
        raises `tfmm.schema.ConfigError` naming `path` (the encoder's)."""


def register_encoder(name, config, modalities):
    """Decorator that registers an encoder builder under `name`, with its config
    dataclass (whose `type` field defaults to `name`) and the input types it reads."""

    def decorator(fn):
        _ENCODERS.register(name, config)(fn)
        ENCODER_MODALITIES[name] = tuple(modalities)
        return fn

    return decorator


ENCODER_SUFFIX = "_encoder"


def encoder_name(input_config):
    """The layer name of an input's encoder in a tfmm model (an `InputConfig` or the
    input's name)."""
    return f"{getattr(input_config, 'name', input_config)}{ENCODER_SUFFIX}"


def input_name_of(layer_name):
    """The input name of an encoder layer's name, or None for another layer."""
    if layer_name.endswith(ENCODER_SUFFIX):
        return layer_name[: -len(ENCODER_SUFFIX)]
    return None


def build_encoder(input_config, vocabulary=None, return_sequence=False):
    """Builds the encoder that `input_config.encoder.type` names; with
    `return_sequence=True` it outputs {"sequence", "mask"} (see `Encoder`)."""
    encoder = _build(input_config, vocabulary, return_sequence)
    if encoder.name != encoder_name(input_config):
        raise ValueError(
            f"encoder {input_config.encoder.type!r}: its builder must name "
            f"the encoder {encoder_name(input_config)!r} "
            f"(encoder_name(input_config)). Received: name={encoder.name!r}"
        )
    return encoder


def _build(input_config, vocabulary, return_sequence):
    return _ENCODERS.lookup(input_config.encoder.type)(
        input_config, vocabulary=vocabulary, return_sequence=return_sequence
    )
