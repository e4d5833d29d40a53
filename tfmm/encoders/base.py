"""The base class of every tfmm encoder."""

import keras


class Encoder(keras.Model):
    """A functional model that maps one modality's tensors to a [batch, dim] vector.

    Subclasses follow keras-hub's backbones: `__init__` creates the layers, wires a
    functional graph over named `keras.Input`s, calls `super().__init__`, then stores its
    constructor arguments; `get_config()` returns exactly those arguments.

    `primary_input` names the inner input that the fused model exposes under the bare
    input name (`text`, `image`, `audio`); other inner inputs are exposed as
    `{name}_{inner}` (for example `audio_length`, `text_padding_mask`).

    Built with `return_sequence=True`, an encoder outputs its token sequence instead of
    the pooled vector: a dict with "sequence" [batch, tokens, dim] and "mask" (bool
    [batch, tokens], True for valid tokens). Token-level fusions (cross_attention,
    single_stream) use it.
    """

    primary_input = None

    @property
    def output_dim(self) -> int:
        out = self.output["sequence"] if isinstance(self.output, dict) else self.output
        return int(out.shape[-1])

    def input_names_for(self, name: str) -> dict:
        """Maps each inner input name to the fused model's input name."""
        return {
            t.name: (name if t.name == self.primary_input else f"{name}_{t.name}")
            for t in self.inputs
        }

    def get_config(self):
        # Layer's own config (name, trainable, dtype); subclasses add their arguments.
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
