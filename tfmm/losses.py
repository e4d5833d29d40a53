"""tfmm's own Keras losses (registered, so a compiled `.keras` file reloads with them).
Depends on Keras only: `tfmm.outputs` and `tfmm.models.heads` both use it."""

import keras


@keras.saving.register_keras_serializable(package="tfmm")
class ClassWeightedLoss(keras.losses.Loss):
    """A loss whose per-example value is multiplied by the weight of the example's label
    (`outputs[].class_weight`). Targets are class ids [batch] or [batch, 1] (multiclass)
    or 0/1 [batch, 1] (binary); Keras's own `class_weight` works on one-output models
    only.

    Example:

    >>> import numpy as np
    >>> loss = ClassWeightedLoss(keras.losses.BinaryCrossentropy(), [4.0, 1.0])
    >>> y, p = np.array([[0.0], [1.0]]), np.array([[0.5], [0.5]])
    >>> round(float(loss(y, p)) / float(keras.losses.BinaryCrossentropy()(y, p)), 4)
    2.5
    """

    def __init__(self, loss, weights, name=None, reduction="sum_over_batch_size", dtype=None):
        if isinstance(loss, dict):
            loss = keras.losses.deserialize(loss)
        super().__init__(name=name or f"weighted_{loss.name}", reduction=reduction, dtype=dtype)
        self.loss = loss
        self.weights = [float(w) for w in weights]

    def call(self, y_true, y_pred):
        per_example = self.loss.call(y_true, y_pred)
        ids = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        weight = keras.ops.take(keras.ops.convert_to_tensor(self.weights, per_example.dtype), ids)
        return per_example * keras.ops.reshape(weight, keras.ops.shape(per_example))

    def get_config(self):
        return {
            "loss": keras.losses.serialize(self.loss),
            "weights": self.weights,
            "name": self.name,
            "reduction": self.reduction,
        }


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

    def __init__(
        self,
        label_smoothing=0.1,
        name="sparse_categorical_crossentropy",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        classes = y_pred.shape[-1]
        y_true = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        target = keras.ops.one_hot(y_true, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        return {
            "label_smoothing": self.label_smoothing,
            "name": self.name,
            "reduction": self.reduction,
        }
