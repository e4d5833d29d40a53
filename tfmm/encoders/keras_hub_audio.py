"""Audio encoder from a keras-hub speech preset: Moonshine's encoder, which reads the 16 kHz
waveform itself (no spectrogram front end), pooled over its valid frames."""

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import encoder_name
from tfmm.layers.audio import FrameMask, MaskedMeanMaxPooling, ValidFrames
from tfmm._extras import require

# The encoder half of a MoonshineBackbone: its inputs and outputs.
_WAVE, _PADDING = "encoder_input_values", "encoder_padding_mask"
_SEQUENCE, _MASK = "encoder_sequence_output", "encoder_attention_mask"


def moonshine_encoder(backbone):
    """The encoder of a keras-hub `MoonshineBackbone` as a model of its own
    ({"encoder_input_values": [batch, samples, 1], "encoder_padding_mask": [batch,
    samples]} ->
    {"sequence": [batch, frames, hidden], "mask": [batch, frames]}), sharing its layers
    and weights; the decoder is left out (no unused weights in training)."""
    if not (isinstance(backbone.input, dict) and _WAVE in backbone.input):
        raise ValueError(
            f"a keras_hub audio encoder needs a Moonshine preset (a backbone "
            f"that reads the waveform). Received: {type(backbone).__name__}"
        )
    return keras.Model(
        {_WAVE: backbone.input[_WAVE], _PADDING: backbone.input[_PADDING]},
        {"sequence": backbone.output[_SEQUENCE], "mask": backbone.output[_MASK]},
        name="moonshine_encoder",
    )


@keras.saving.register_keras_serializable(package="tfmm")
class KerasHubAudioEncoder(Encoder):
    """Mono 16 kHz waveforms [batch, samples] and valid lengths [batch] -> [batch, 2 *
    hidden] (mean and maximum over the valid frames) with a speech encoder that reads
    the waveform: the encoder half of a keras-hub `MoonshineBackbone`.

    The backbone is a constructor argument and is serialised whole (its constructor
    arguments, keras-hub's composite style); only its encoder's layers are part of this
    model, so the decoder's weights are neither trained nor saved.

    Args:
        backbone: `keras_hub.models.MoonshineBackbone`.
        num_samples: int. Samples per clip.
        frozen: bool. Freeze the encoder.
        return_sequence: bool. Output {"sequence": the frames, "mask": valid frames}.

    Example:

    >>> import keras_hub, numpy as np
    >>> moonshine = keras_hub.models.MoonshineBackbone(vocabulary_size=20, filter_dim=8,
    ...     encoder_num_layers=1, decoder_num_layers=1, hidden_dim=8, intermediate_dim=16,
    ...     encoder_num_heads=2, decoder_num_heads=2)
    >>> enc = KerasHubAudioEncoder(moonshine, num_samples=4000)
    >>> x = {"waveform": np.zeros((2, 4000), "float32"), "length": np.array([4000, 100])}
    >>> tuple(enc(x).shape)
    (2, 16)
    """

    primary_input = "waveform"

    def __init__(self, backbone, num_samples, frozen=False, return_sequence=False, **kwargs):
        if isinstance(backbone, dict):
            backbone = keras.layers.deserialize(backbone)
        # === Layers ===
        encoder = moonshine_encoder(backbone)
        if frozen:
            encoder.trainable = False

        # === Functional Model ===
        waveform = keras.Input((num_samples,), dtype="float32", name="waveform")
        length = keras.Input((), dtype="int32", name="length")
        values = keras.layers.Reshape((num_samples, 1), name="channel")(waveform)
        padding = FrameMask(num_frames=num_samples, frame_step=1, name="valid_samples")(length)
        out = encoder({_WAVE: values, _PADDING: padding}, training=False if frozen else None)
        mask = ValidFrames(name="valid_frames")(out["mask"])
        if return_sequence:
            outputs = {"sequence": out["sequence"], "mask": mask}
        else:
            outputs = MaskedMeanMaxPooling(name="pool")(out["sequence"], mask)
        super().__init__(inputs={"waveform": waveform, "length": length}, outputs=outputs, **kwargs)

        # === Config ===
        # Kept serialised, not as a layer: tracking the backbone would add its decoder.
        self._backbone_config = keras.layers.serialize(backbone)
        self.num_samples = num_samples
        self.frozen = frozen
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": self._backbone_config,
                "num_samples": self.num_samples,
                "frozen": self.frozen,
                "return_sequence": self.return_sequence,
            }
        )
        return config


def build_keras_hub_audio(input_config, return_sequence=False):
    keras_hub = require("keras_hub", "the keras_hub audio encoder")

    cfg = input_config.encoder
    if input_config.sample_rate != 16000:
        raise ValueError(
            f"input {input_config.name!r}: Moonshine reads 16 kHz audio; set "
            f"sample_rate: 16000 (with resample: true for other rates). "
            f"Received: sample_rate={input_config.sample_rate}"
        )
    # A local preset directory or a Kaggle / Hugging Face handle (downloads once).
    # In float32 under a mixed-precision policy too: keras-hub's Moonshine encoder block
    # adds a float32 tensor to a bfloat16 / float16 one and fails.
    backbone = keras_hub.models.Backbone.from_preset(cfg.preset, dtype="float32")
    try:
        moonshine_encoder(backbone)
    except ValueError as e:
        raise ValueError(f"input {input_config.name!r}: {e}; preset={cfg.preset!r}") from None
    return KerasHubAudioEncoder(
        backbone,
        num_samples=input_config.num_samples,
        frozen=not cfg.trainable,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
