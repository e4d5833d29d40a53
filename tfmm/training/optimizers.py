"""Optimizers and precision for a run's `training:` settings (shared by `tfmm train` and
`tfmm pretrain`).

Example (a text input reads a bag of n-grams: `optimizer: auto` is SGD at 0.03 there;
a learning rate given without an optimizer keeps AdamW; a warmup epoch of 10 steps starts
at a tenth of the rate):

>>> from tfmm.config import config_from_dict
>>> base = {"inputs": [{"name": "t", "type": "text"}],
...         "outputs": [{"name": "y", "labels": ["a", "b"]}]}
>>> c = config_from_dict({**base, "training": {"epochs": 2, "warmup_epochs": 1}})
>>> opt = build_optimizer(c, steps_per_epoch=10)
>>> type(opt).__name__, round(float(opt.learning_rate), 5)
('SGD', 0.003)
>>> c = config_from_dict({**base, "training": {"learning_rate": 3e-3}})
>>> type(build_optimizer(c, steps_per_epoch=10)).__name__
'AdamW'
"""

import keras

from tfmm.training.schedules import LinearWarmup, warmup_epochs


def build_optimizer(config, steps_per_epoch, learning_rate=None, epochs=None, warmup=True):
    """The optimizer of `training.optimizer` at `learning_rate` (default
    `training.learning_rate`) for a fit of `epochs` (default `training.epochs`) epochs of
    `steps_per_epoch` steps: `training.warmup_epochs` of linear warmup (when `warmup`),
    then the `training.lr_schedule`."""
    from tfmm.training.config import resolve_training

    # Resolved already in a Config; a bare TrainingConfig's "auto" is AdamW at 3e-3.
    t = resolve_training(config.training, [])
    lr = learning_rate or t.learning_rate
    total = (epochs or t.epochs) * (steps_per_epoch or 0)
    warmup_steps = int(round(warmup_epochs(config) * (steps_per_epoch or 0))) if warmup else 0
    if t.lr_schedule == "cosine" and total:
        lr = keras.optimizers.schedules.CosineDecay(
            lr / warmup_steps if warmup_steps else lr,
            decay_steps=max(total - warmup_steps, 1),
            warmup_target=lr if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    elif warmup_steps:
        lr = LinearWarmup(lr, warmup_steps)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    return keras.optimizers.SGD(lr, momentum=0.9)


def set_precision(config, strategy):
    """Sets Keras's global dtype policy from `training.mixed_precision` (float16 on a GPU,
    bfloat16 elsewhere); returns its name."""
    import tensorflow as tf

    if not config.training.mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    on_gpu = bool(tf.config.list_logical_devices("GPU")) and not isinstance(
        strategy, tf.distribute.TPUStrategy
    )
    policy = "mixed_float16" if on_gpu else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
