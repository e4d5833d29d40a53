"""Any TF Hub text, image or audio encoder, through `keras.layers.TFSMLayer`.

`hub.KerasLayer` is a tf-keras (Keras 2) layer and fails inside Keras 3 models, so the
SavedModel is loaded with `keras.layers.TFSMLayer`; tensorflow-hub only resolves a
handle to its local download folder.

Audio follows YAMNet's interface (https://tfhub.dev/google/yamnet/1): one mono float32
waveform [samples] in [-1, 1] at 16 kHz in, per-frame outputs [frames, dim] out
(YAMNet's embeddings are 1024 wide, one per 0.96 s window every 0.48 s; `output_key`
names them among the signature's outputs).
"""

import os
from dataclasses import dataclass
from typing import Literal, Optional

import keras
import tensorflow as tf

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.schema import ConfigError
from tfmm.layers.audio import FrameMask, MaskedMeanMaxPooling
from tfmm.layers.sequence import SequenceMask
from tfmm._extras import require


def resolve_handle(handle):
    """Returns a local SavedModel directory for a TF Hub handle or a local path."""
    if os.path.isdir(handle):
        return handle
    if "://" not in handle and not handle.startswith("gs:"):
        raise FileNotFoundError(
            f"hub encoder: no SavedModel directory at {handle!r} "
            f"(and it is not a URL handle). Received: handle={handle!r}"
        )
    hub = require("tensorflow_hub", "the hub encoder")

    return hub.resolve(handle)


def _pick(out, output_key, handle, signature):
    """The output tensor `output_key` of a signature's outputs (the only one if None)."""
    if not isinstance(out, dict):
        return out, output_key
    if output_key is None:
        if len(out) != 1:
            raise ValueError(
                f"HubEncoder: signature {signature!r} of {handle!r} has "
                f"outputs {sorted(out)}; set encoder.output_key. "
                f"Received: output_key=None"
            )
        output_key = next(iter(out))
    if output_key not in out:
        raise ValueError(
            f"HubEncoder: signature {signature!r} of {handle!r} has no "
            f"output {output_key!r}; outputs: {sorted(out)}."
        )
    return out[output_key], output_key


class PerClipFrames(keras.layers.Layer):
    """Waveforms [batch, samples] -> per-frame outputs [batch, frames, dim] of a
    SavedModel that takes one clip at a time (YAMNet's interface), mapped over the batch.

    Built by `HubEncoder` (which rebuilds it from the handle); not saved on its own.
    """

    def __init__(self, saved, output_key, frames, dim, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.saved = saved
        self.output_key = output_key
        self.frames, self.dim = frames, dim

    def call(self, waveforms):
        def one(wave):
            out = self.saved(wave)
            out = out[self.output_key] if isinstance(out, dict) else out
            return tf.ensure_shape(tf.cast(out, tf.float32), [self.frames, self.dim])

        return tf.map_fn(
            one,
            tf.cast(waveforms, tf.float32),
            fn_output_signature=tf.TensorSpec([self.frames, self.dim], tf.float32),
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.frames, self.dim)


@keras.saving.register_keras_serializable(package="tfmm")
class HubEncoder(Encoder):
    """A SavedModel signature as an encoder.

    Text: strings [batch] -> vector. Image: RGB [batch, h, w, 3] in [0, 255], scaled to
    [0, 1] (TF Hub's image convention) -> vector. Audio: waveforms [batch, num_samples]
    and valid lengths [batch]; the signature runs on each clip (YAMNet's interface: a
    [samples] waveform in, [frames, dim] out), and the frames that start inside the clip
    are pooled by their mean and maximum -> [batch, 2 * dim].

    Args:
        handle: str. TF Hub handle or local SavedModel directory.
        modality: "text", "image" or "audio".
        image_size: [height, width], for images.
        num_samples: int. Samples per (padded) clip, for audio.
        sample_rate: int. Hz of the clips, for audio (16000 for YAMNet).
        frame_hop_seconds: float. Seconds between the starts of the signature's output
            frames, for audio (0.48 for YAMNet): which frames are inside a clip.
        output_key: str or None. Which output of the signature is the vector, when the
            signature returns several.
        signature: str. Signature (call endpoint) name.
        trainable: bool. Fine-tune the SavedModel's variables.
        return_sequence: bool. Output the vector as a one-token sequence
            ({"sequence": [batch, 1, dim], "mask"}), for token-level fusions; for audio,
            the frames with their mask.

    Example:

    >>> enc = HubEncoder("path/to/saved_model", modality="text")  # doctest: +SKIP
    """

    def __init__(
        self,
        handle,
        modality="text",
        image_size=(224, 224),
        output_key=None,
        signature="serving_default",
        trainable=False,
        return_sequence=False,
        num_samples=16000,
        sample_rate=16000,
        frame_hop_seconds=0.48,
        **kwargs,
    ):
        if modality not in ("text", "image", "audio"):
            raise ValueError(
                f"HubEncoder: modality must be 'text', 'image' or 'audio'. "
                f"Received: modality={modality!r}"
            )
        image_size = list(image_size)
        # === Layers ===
        path = resolve_handle(handle)
        layer = keras.layers.TFSMLayer(
            path, call_endpoint=signature, trainable=trainable, name="saved_model"
        )

        # === Functional Model ===
        if modality == "audio":
            # One eager call on a silent clip gives the frame count and width.
            probe, output_key = _pick(layer(tf.zeros([num_samples])), output_key, handle, signature)
            if len(probe.shape) != 2:
                raise ValueError(
                    f"HubEncoder: audio signature {signature!r} of {handle!r} "
                    f"must return [frames, dim] for a [samples] waveform. "
                    f"Received: output shape {tuple(probe.shape)}"
                )
            frames, dim = (int(d) for d in probe.shape)
            waveform = keras.Input((num_samples,), dtype="float32", name="waveform")
            length = keras.Input((), dtype="int32", name="length")
            seq = PerClipFrames(layer, output_key, frames, dim, name="frames")(waveform)
            mask = FrameMask(
                num_frames=frames,
                frame_step=max(int(round(frame_hop_seconds * sample_rate)), 1),
                name="frame_mask",
            )(length)
            out = (
                {"sequence": seq, "mask": mask}
                if return_sequence
                else MaskedMeanMaxPooling(name="pool")(seq, mask)
            )
            super().__init__(inputs={"waveform": waveform, "length": length}, outputs=out, **kwargs)
            self.primary_input = "waveform"
        if modality == "text":
            inputs = keras.Input((), dtype="string", name="text")
            x = inputs
        elif modality == "image":
            inputs = keras.Input((*image_size, 3), dtype="float32", name="pixels")
            x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
        if modality != "audio":
            out, output_key = _pick(layer(x), output_key, handle, signature)
            if len(out.shape) != 2:
                raise ValueError(
                    f"HubEncoder: {handle!r} must return [batch, dim] vectors. "
                    f"Received: output shape {tuple(out.shape)}"
                )
            if return_sequence:
                seq = keras.layers.Reshape((1, out.shape[-1]), name="one_token")(out)
                out = {"sequence": seq, "mask": SequenceMask("all", name="mask")(seq)}
            super().__init__(inputs=inputs, outputs=out, **kwargs)
            self.primary_input = inputs.name

        # === Config ===
        self.handle = handle
        self.modality = modality
        self.image_size = image_size
        self.output_key = output_key
        self.signature = signature
        self.hub_trainable = trainable
        self.return_sequence = return_sequence
        self.num_samples = num_samples
        self.sample_rate = sample_rate
        self.frame_hop_seconds = frame_hop_seconds

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "handle": self.handle,
                "modality": self.modality,
                "image_size": self.image_size,
                "output_key": self.output_key,
                "signature": self.signature,
                "trainable": self.hub_trainable,
                "return_sequence": self.return_sequence,
                "num_samples": self.num_samples,
                "sample_rate": self.sample_rate,
                "frame_hop_seconds": self.frame_hop_seconds,
            }
        )
        return config


@dataclass(frozen=True)
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

    tflite_refusal = "a TF Hub graph is not made of TFLite builtins"

    @property
    def pretrained(self):
        return True  # a published SavedModel

    def onnx_refusal(self, input_type):
        # (Text takes strings: refused, as every string input is, by its dtype.)
        return "a SavedModel run clip by clip" if input_type == "audio" else None

    type: Literal["hub"] = "hub"
    # A TF Hub handle (URL) or a local SavedModel folder (required).
    handle: str = ""
    # Which output of the signature is the vector (a model with several outputs); a wrong key is
    # refused with the outputs' names.
    output_key: Optional[str] = None
    # The SavedModel signature to call.
    signature: str = "serving_default"
    # Fine-tune the SavedModel's variables (false: frozen).
    trainable: bool = False
    # Audio: seconds between the starts of the model's output frames (YAMNet: 0.48).
    frame_hop_seconds: float = 0.48

    def validate(self, path):
        if not self.handle:
            raise ConfigError(
                f"{path}.handle: required for a hub encoder (a TF Hub handle "
                f"or a local SavedModel directory). Received: handle=''"
            )


@register_encoder("hub", config=HubConfig, modalities=("text", "image", "audio"))
def build_hub(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    audio = input_config.type == "audio"
    return HubEncoder(
        cfg.handle,
        modality=input_config.type,
        image_size=list(input_config.image_hw),
        output_key=cfg.output_key,
        signature=cfg.signature,
        trainable=cfg.trainable,
        return_sequence=return_sequence,
        num_samples=input_config.num_samples if audio else 16000,
        sample_rate=input_config.sample_rate if audio else 16000,
        frame_hop_seconds=cfg.frame_hop_seconds,
        name=encoder_name(input_config),
    )
