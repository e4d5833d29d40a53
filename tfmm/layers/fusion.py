"""The small layers that fusion strategies are wired from.

Presence is one float32 tensor [batch, modalities] (1 = present, 0 = missing), built
by `ModalityPresence` from the `{name}_present` inputs of optional modalities and from
modality dropout. Every fusion applies it so that a missing modality's content cannot
change the output.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfmm")
class ModalityPresence(keras.layers.Layer):
    """Per-example presence of each modality, with modality dropout in training.

    Called on a list with one tensor per modality, in order: the `{name}_present` flags
    [batch] of an optional modality, or any tensor of the modality with a batch dimension
    (it only gives the batch size: that modality is always present).

    Args:
        optional: list of bool. Which entries of the call's list are presence flags.
        rate: float. Modality dropout: in training, each present modality of each example
            is dropped with this probability; an example whose every modality would be
            dropped keeps its original presence.
        seed: int or None. Seed of the dropout.

    Example:

    >>> import numpy as np
    >>> layer = ModalityPresence(optional=[False, True])
    >>> layer([np.zeros((2, 3)), np.array([1.0, 0.0])]).numpy().tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """

    def __init__(self, optional, rate=0.0, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"ModalityPresence: rate must be in [0, 1). Received: rate={rate}")
        self.optional = [bool(o) for o in optional]
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if rate else None

    def call(self, inputs, training=None):
        batch = ops.shape(inputs[0])[0]
        columns = []
        for flag, x in zip(self.optional, inputs):
            if flag:
                columns.append(ops.reshape(ops.cast(x, "float32"), (-1,)))
            else:
                columns.append(ops.ones((batch,), "float32"))
        presence = ops.stack(columns, axis=1)
        if training and self.rate:
            keep = ops.cast(
                keras.random.uniform(ops.shape(presence), seed=self.seed_generator) >= self.rate,
                "float32",
            )
            dropped = presence * keep
            none_left = ops.sum(dropped, axis=1, keepdims=True) == 0
            presence = ops.where(none_left, presence, dropped)
        return presence

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(self.optional))

    def get_config(self):
        config = super().get_config()
        config.update({"optional": self.optional, "rate": self.rate, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class ApplyPresence(keras.layers.Layer):
    """Zeroes a modality's tensor (or clears its boolean mask) where it is missing; more
    generally, scales it by one column of a [batch, modalities] weight tensor.

    Args:
        index: int. The modality's column in the presence (or weight) tensor.
        scale: float. A constant factor on the column (the gated fusion's `concat`).

    Example:

    >>> import numpy as np
    >>> ApplyPresence(1)(np.ones((2, 3)), np.array([[1.0, 1.0], [1.0, 0.0]])).numpy()[:, 0]
    array([1., 0.], dtype=float32)
    """

    def __init__(self, index, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.index = index
        self.scale = scale
        self.supports_masking = True

    def call(self, x, presence):
        p = presence[:, self.index]
        if x.dtype == "bool":
            return ops.logical_and(x, ops.expand_dims(p > 0, 1))
        p = ops.reshape(ops.cast(p * self.scale, x.dtype), (-1,) + (1,) * (len(x.shape) - 1))
        return x * p

    def compute_output_spec(self, x, presence):
        return keras.KerasTensor(x.shape, dtype=x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"index": self.index, "scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of a sequence [batch, tokens, dim] over its valid tokens [batch, tokens].

    A row with no valid token pools to zeros.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]])
    >>> MaskedMeanPooling()(x, np.array([[True, True, False]])).numpy().tolist()
    [[2.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, x, mask=None):
        return None

    def call(self, x, mask):
        m = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        total = ops.sum(x * m, axis=1)
        count = ops.maximum(ops.sum(m, axis=1), ops.cast(1.0, x.dtype))
        return total / count

    def compute_output_shape(self, x_shape, mask_shape=None):
        return (x_shape[0], x_shape[-1])


@keras.saving.register_keras_serializable(package="tfmm")
class GateWeights(keras.layers.Layer):
    """Softmax over modality gate logits [batch, modalities], restricted to the
    modalities present: a missing modality gets weight exactly 0 and the others sum to 1.

    Always float32 (a -1e9 logit does not fit in float16).

    Example:

    >>> import numpy as np
    >>> w = GateWeights()(np.zeros((1, 3)), np.array([[1.0, 0.0, 1.0]]))
    >>> w.numpy().tolist()
    [[0.5, 0.0, 0.5]]
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, logits, presence=None):
        logits = ops.cast(logits, "float32")
        if presence is not None:
            logits = logits + (1.0 - ops.cast(presence, "float32")) * -1e9
        return ops.softmax(logits, axis=-1)

    def compute_output_shape(self, logits_shape, presence_shape=None):
        return tuple(logits_shape)


@keras.saving.register_keras_serializable(package="tfmm")
class WeightedSum(keras.layers.Layer):
    """Sum of modality vectors (each [batch, dim]) weighted by [batch, modalities].

    Example:

    >>> import numpy as np
    >>> WeightedSum()([np.ones((1, 2)), 3 * np.ones((1, 2))],
    ...               np.array([[0.5, 0.5]])).numpy().tolist()
    [[2.0, 2.0]]
    """

    def call(self, vectors, weights):
        stacked = ops.stack(vectors, axis=1)
        w = ops.expand_dims(ops.cast(weights, stacked.dtype), -1)
        return ops.sum(stacked * w, axis=1)

    def compute_output_shape(self, vectors_shape, weights_shape=None):
        return tuple(vectors_shape[0])


@keras.saving.register_keras_serializable(package="tfmm")
class LateCombine(keras.layers.Layer):
    """Combines per-modality logits (each [batch, units]) into one [batch, units].

    Args:
        mode: "mean" (the average over the modalities present) or "learned" (softmax of
            one learned weight per modality, over the modalities present).
        num_modalities: int.

    Example:

    >>> import numpy as np
    >>> layer = LateCombine("mean", 2)
    >>> layer([np.ones((2, 1)), 3 * np.ones((2, 1))],
    ...       np.array([[1.0, 1.0], [0.0, 1.0]])).numpy().tolist()
    [[2.0], [3.0]]
    """

    def __init__(self, mode="mean", num_modalities=1, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mode not in ("mean", "learned"):
            raise ValueError(
                f"LateCombine: mode must be 'mean' or 'learned'. Received: mode={mode!r}"
            )
        self.mode = mode
        self.num_modalities = num_modalities

    def build(self, logits_shape, presence_shape=None):
        if self.mode == "learned":
            self.modality_logits = self.add_weight(
                shape=(self.num_modalities,), initializer="zeros", name="modality_logits"
            )

    def call(self, logits, presence=None):
        stacked = ops.stack([ops.cast(x, "float32") for x in logits], axis=1)
        batch = ops.shape(stacked)[0]
        if presence is None:
            presence = ops.ones((batch, self.num_modalities), "float32")
        presence = ops.cast(presence, "float32")
        if self.mode == "learned":
            scores = ops.expand_dims(self.modality_logits, 0) + (1.0 - presence) * -1e9
            weights = ops.softmax(scores, axis=-1)
        else:
            weights = presence / ops.maximum(ops.sum(presence, axis=1, keepdims=True), 1.0)
        return ops.sum(stacked * ops.expand_dims(weights, -1), axis=1)

    def compute_output_shape(self, logits_shape, presence_shape=None):
        return tuple(logits_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "num_modalities": self.num_modalities})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class ModalityTypeEmbedding(keras.layers.Layer):
    """Adds one learned vector (this modality's type embedding) to every token.

    Example:

    >>> import numpy as np
    >>> tuple(ModalityTypeEmbedding()(np.zeros((1, 2, 3))).shape)
    (1, 2, 3)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=(input_shape[-1],),
            name="embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)


@keras.saving.register_keras_serializable(package="tfmm")
class GradientScale(keras.layers.Layer):
    """The identity forward; backward, the gradient times `scale` (a non-trainable
    weight, saved with the model). Gradient-Blending puts one between each encoder and
    its auxiliary head, so the head's loss reaches the encoder with its blend weight
    (`tfmm.training.balance.GradientBlending` sets it after every epoch).

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> layer = GradientScale(initial_scale=0.25)
    >>> x = tf.constant([[1.0, 2.0]])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = tf.reduce_sum(layer(x))
    >>> tape.gradient(y, x).numpy().tolist()
    [[0.25, 0.25]]
    """

    def __init__(self, initial_scale=1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.initial_scale = float(initial_scale)
        self.scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_scale),
            trainable=False,
            name="scale",
        )

    def call(self, x):
        import tensorflow as tf

        scale = ops.cast(self.scale, x.dtype)

        @tf.custom_gradient
        def scaled(t):
            return tf.identity(t), lambda dy: dy * scale

        return scaled(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["initial_scale"] = self.initial_scale
        return config
