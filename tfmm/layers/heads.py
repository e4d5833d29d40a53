"""Output heads."""

import keras

from tfmm.outputs import OUTPUT_TYPES


@keras.saving.register_keras_serializable(package="tfmm")
class Head(keras.layers.Layer):
    """A Dense output layer that knows its task and its label strings.

    The head always computes in float32 (also under a mixed-precision policy), so that
    softmax and losses stay stable. Its config keeps the label strings, so a saved model
    turns its outputs back into the user's labels without any side file.

    Args:
        task: str. "multiclass", "binary", "multilabel" or "regression".
        units: int. Output width.
        labels: list of str or None. One per unit (two for binary: negative, positive).
        project: bool. Apply a Dense layer (True) or only the activation, to inputs that
            already are logits of width `units` (late fusion).
        threshold: float. A binary head's decision threshold (kept in the config, as the
            labels are; `outputs[].threshold`).
        temperature: float > 0. The logits are divided by it before the softmax or
            sigmoid (temperature scaling, `outputs[].calibration`); 1 leaves them as they
            are. It never changes the predicted label, only the probabilities.

    Example:

    >>> head = Head("multiclass", 3, labels=["cat", "dog", "owl"])
    >>> tuple(head(keras.ops.ones((2, 4))).shape)
    (2, 3)
    """

    def __init__(
        self, task, units, labels=None, project=True, threshold=0.5, temperature=1.0, **kwargs
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if task not in OUTPUT_TYPES:
            raise ValueError(
                f"Head: unknown task; allowed: {sorted(OUTPUT_TYPES)}. Received: task={task!r}"
            )
        if labels is not None:
            expected = OUTPUT_TYPES[task].num_labels(units)
            if len(labels) != expected:
                raise ValueError(
                    f"Head: a {task} head of {units} units needs {expected} "
                    f"labels. Received: labels={labels}"
                )
        self.task = task
        self.units = units
        self.labels = None if labels is None else [str(x) for x in labels]
        self.project = project
        self.threshold = float(threshold)
        if not float(temperature) > 0:
            raise ValueError(f"Head: temperature must be > 0. Received: temperature={temperature}")
        self.temperature = float(temperature)
        if project:
            self.dense = keras.layers.Dense(units, dtype="float32", name="dense")
        self.activation = keras.layers.Activation(
            OUTPUT_TYPES[task].activation, dtype="float32", name="activation"
        )

    def build(self, input_shape):
        if self.project:
            self.dense.build(input_shape)

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        z = self.dense(x) if self.project else x
        if self.temperature != 1.0:
            z = z / self.temperature
        return self.activation(z)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task": self.task,
                "units": self.units,
                "labels": self.labels,
                "project": self.project,
                "threshold": self.threshold,
                "temperature": self.temperature,
            }
        )
        return config
