"""Heads, and the loss and metrics that go with each head type."""

import keras

from tfmm.layers.heads import Head
from tfmm.outputs import output_type


def build_head(output_config, x, name=None):
    """Adds the head for `output_config` on top of the fused tensor `x`."""
    units = output_config.units
    if units is None:
        raise ValueError(f"output {output_config.name!r}: its labels are unknown. Set "
                         f"outputs[].labels in the config, or build the model through "
                         f"tfmm.data (which reads them from the training split).")
    return Head(output_config.type, units, labels=output_config.labels,
                name=name or f"head_{output_config.name}")(x)


def loss_for(output_config, label_smoothing=0.0):
    """The Keras loss for one head (`tfmm.outputs`). Multiclass targets are integer class
    ids.

    With `label_smoothing` s > 0 a multiclass target becomes (1 - s) one-hot + s / classes
    and a binary or multilabel target moves s / 2 towards 0.5; regression ignores it.
    """
    return output_type(output_config).loss(output_config, label_smoothing)


@keras.saving.register_keras_serializable(package="tfmm")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy of probabilities against integer class ids, with label smoothing
    (Keras's sparse loss has none).

    Example:

    >>> import numpy as np
    >>> loss = SparseCategoricalCrossentropyWithSmoothing(0.1)
    >>> round(float(loss(np.array([0]), np.array([[0.9, 0.05, 0.05]]))), 4)
    0.2981
    """

    def __init__(self, label_smoothing=0.1, name="sparse_categorical_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        classes = y_pred.shape[-1]
        y_true = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        target = keras.ops.one_hot(y_true, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {"label_smoothing": self.label_smoothing, "name": self.name,
                "reduction": self.reduction}


def metrics_for(output_config):
    """Keras metrics for one head (fresh objects each call; `tfmm.outputs`)."""
    return output_type(output_config).metrics(output_config)
