"""Learning-rate schedules that Keras does not have."""

import keras


@keras.saving.register_keras_serializable(package="tfmm")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `learning_rate` over `warmup_steps`, then constant.

    (With `lr_schedule: cosine`, tfmm uses Keras's `CosineDecay` with its own warmup.)

    Example:

    >>> s = LinearWarmup(1e-3, 10)
    >>> [round(float(s(step)), 6) for step in (0, 5, 10, 100)]
    [0.0001, 0.0006, 0.001, 0.001]
    """

    def __init__(self, learning_rate, warmup_steps):
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = (step + 1.0) / float(max(self.warmup_steps, 1))
        return self.learning_rate * keras.ops.minimum(ramp, 1.0)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
