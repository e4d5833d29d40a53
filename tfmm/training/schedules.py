"""Learning-rate schedules that Keras does not have."""

import keras

from tfmm.fusion.registry import needs_sequences


def warmup_epochs(config):
    """`training.warmup_epochs` with "auto" resolved: 1 epoch (at most the run's) when
    the fusion reads token sequences (single_stream, cross_attention), else 0.

    Example:

    >>> import tfmm
    >>> config = tfmm.config_from_dict({"inputs": [{"name": "t", "type": "text"}],
    ...                                 "outputs": [{"name": "y", "labels": ["a", "b"]}],
    ...                                 "fusion": {"type": "single_stream"}})
    >>> warmup_epochs(config)
    1.0
    """
    t = config.training
    if t.warmup_epochs != "auto":
        return float(t.warmup_epochs)
    return float(min(1, t.epochs)) if needs_sequences(config.fusion) else 0.0


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
