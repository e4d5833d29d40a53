"""Any TF Hub text or image encoder, through `keras.layers.TFSMLayer`.

`hub.KerasLayer` is a tf-keras (Keras 2) layer and fails inside Keras 3 models, so the
SavedModel is loaded with `keras.layers.TFSMLayer`; tensorflow-hub only resolves a
handle to its local download folder.
"""

import os

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import register_encoder
from tfmm.layers.sequence import SequenceMask


def resolve_handle(handle):
    """Returns a local SavedModel directory for a TF Hub handle or a local path."""
    if os.path.isdir(handle):
        return handle
    if "://" not in handle and not handle.startswith("gs:"):
        raise FileNotFoundError(f"hub encoder: no SavedModel directory at {handle!r} "
                                f"(and it is not a URL handle). Received: handle={handle!r}")
    import tensorflow_hub as hub

    return hub.resolve(handle)


@keras.saving.register_keras_serializable(package="tfmm")
class HubEncoder(Encoder):
    """A SavedModel signature as an encoder.

    Text: strings [batch] -> vector. Image: RGB [batch, h, w, 3] in [0, 255], scaled to
    [0, 1] (TF Hub's image convention) -> vector.

    Args:
        handle: str. TF Hub handle or local SavedModel directory.
        modality: "text" or "image".
        image_size: [height, width], for images.
        output_key: str or None. Which output of the signature is the vector, when the
            signature returns several.
        signature: str. Signature (call endpoint) name.
        trainable: bool. Fine-tune the SavedModel's variables.
        return_sequence: bool. Output the vector as a one-token sequence
            ({"sequence": [batch, 1, dim], "mask"}), for token-level fusions.

    Example:

    >>> enc = HubEncoder("path/to/saved_model", modality="text")  # doctest: +SKIP
    """

    def __init__(self, handle, modality="text", image_size=(224, 224), output_key=None,
                 signature="serving_default", trainable=False, return_sequence=False,
                 **kwargs):
        if modality not in ("text", "image"):
            raise ValueError(f"HubEncoder: modality must be 'text' or 'image'. "
                             f"Received: modality={modality!r}")
        image_size = list(image_size)
        # === Layers ===
        path = resolve_handle(handle)
        layer = keras.layers.TFSMLayer(path, call_endpoint=signature, trainable=trainable,
                                       name="saved_model")

        # === Functional Model ===
        if modality == "text":
            inputs = keras.Input((), dtype="string", name="text")
            x = inputs
        else:
            inputs = keras.Input((*image_size, 3), dtype="float32", name="pixels")
            x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
        out = layer(x)
        if isinstance(out, dict):
            if output_key is None:
                if len(out) != 1:
                    raise ValueError(f"HubEncoder: signature {signature!r} of {handle!r} has "
                                     f"outputs {sorted(out)}; set encoder.output_key. "
                                     f"Received: output_key=None")
                output_key = next(iter(out))
            if output_key not in out:
                raise ValueError(f"HubEncoder: signature {signature!r} of {handle!r} has no "
                                 f"output {output_key!r}; outputs: {sorted(out)}.")
            out = out[output_key]
        if len(out.shape) != 2:
            raise ValueError(f"HubEncoder: {handle!r} must return [batch, dim] vectors. "
                             f"Received: output shape {tuple(out.shape)}")
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

    def get_config(self):
        config = super().get_config()
        config.update({"handle": self.handle, "modality": self.modality,
                       "image_size": self.image_size, "output_key": self.output_key,
                       "signature": self.signature, "trainable": self.hub_trainable,
                       "return_sequence": self.return_sequence})
        return config


@register_encoder("hub")
def build_hub(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    return HubEncoder(cfg.handle, modality=input_config.type,
                      image_size=list(input_config.image_hw), output_key=cfg.output_key,
                      signature=cfg.signature, trainable=cfg.trainable,
                      return_sequence=return_sequence,
                      name=f"{input_config.name}_encoder")
