"""Layers that give an encoder's token sequence its validity mask."""

import keras


@keras.saving.register_keras_serializable(package="tfmm")
class SequenceMask(keras.layers.Layer):
    """A boolean [batch, tokens] validity mask.

    Args:
        mode: "nonzero" (the input is token ids [batch, tokens]; id 0 is padding) or "all"
            (the input is a sequence [batch, tokens, dim] whose tokens are all valid, such
            as a ResNet feature grid).

    Example:

    >>> import numpy as np
    >>> SequenceMask("nonzero")(np.array([[3, 1, 0]])).numpy().tolist()
    [[True, True, False]]
    >>> SequenceMask("all")(np.zeros((1, 2, 5))).numpy().tolist()
    [[True, True]]
    """

    def __init__(self, mode="nonzero", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("nonzero", "all"):
            raise ValueError(
                f"SequenceMask: mode must be 'nonzero' or 'all'. Received: mode={mode!r}"
            )
        self.mode = mode

    def call(self, x):
        if self.mode == "nonzero":
            return keras.ops.not_equal(x, 0)
        return keras.ops.ones(keras.ops.shape(x)[:2], dtype="bool")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2])

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape[:2], dtype="bool")

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class FirstToken(keras.layers.Layer):
    """[batch, tokens, dim] -> [batch, dim]: the first token (a ViT's class token).

    Example:

    >>> import numpy as np
    >>> FirstToken()(np.arange(12.0).reshape(1, 3, 4)).numpy().tolist()
    [[0.0, 1.0, 2.0, 3.0]]
    """

    def call(self, x):
        return x[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
