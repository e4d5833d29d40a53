"""Training-only augmentation layers (`inputs[].augment`).

Each layer is the identity unless called with `training=True`, so evaluation,
prediction and every export trace see no random op at all.
"""

import keras


@keras.saving.register_keras_serializable(package="tfmm")
class ImageAugmentation(keras.layers.Layer):
    """Random horizontal flip, rotation, zoom and shift of [batch, h, w, 3] pixels.

    Args:
        flip: bool. Random horizontal flip.
        rotation: float. Largest rotation as a fraction of a full turn (0.05 = 18°).
        zoom: float. Largest zoom in or out as a fraction of the size.
        translation: float. Largest shift as a fraction of the height and width.
        seed: int or None.

    Example:

    >>> import numpy as np
    >>> aug = ImageAugmentation(seed=0)
    >>> x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    >>> same = lambda training: bool(np.array_equal(aug(x, training=training), x))
    >>> same(False), same(True)
    (True, False)
    """

    def __init__(self, flip=True, rotation=0.05, zoom=0.15, translation=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.flip, self.rotation, self.zoom = flip, rotation, zoom
        self.translation, self.seed = translation, seed
        s = seed if seed is None else int(seed)
        layers = []
        if flip:
            layers.append(keras.layers.RandomFlip("horizontal", seed=s, name="flip"))
        if rotation:
            layers.append(
                keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=s, name="rotation")
            )
        if zoom:
            layers.append(keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=s, name="zoom"))
        if translation:
            layers.append(
                keras.layers.RandomTranslation(
                    translation, translation, fill_mode="reflect", seed=s, name="translation"
                )
            )
        self._augmenters = layers

    def build(self, input_shape):
        for layer in self._augmenters:
            layer.build(input_shape)

    def call(self, x, training=None):
        if not training:
            return x
        for layer in self._augmenters:
            x = layer(x, training=True)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "flip": self.flip,
                "rotation": self.rotation,
                "zoom": self.zoom,
                "translation": self.translation,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class SpecAugment(keras.layers.Layer):
    """SpecAugment-style masks (Park et al., 2019) on [batch, frames, bins] features.

    Each example gets `time_masks` spans of up to `time_width` x frames and `freq_masks`
    bands of up to `freq_width` x bins set to `value` (0: the mean of normalised
    log-mel features).

    Example:

    >>> import numpy as np
    >>> x = np.ones((2, 50, 16), "float32")
    >>> y = SpecAugment(seed=0)(x, training=True).numpy()
    >>> bool((y == 0).any()), bool((SpecAugment()(x, training=False).numpy() == 1).all())
    (True, True)
    """

    def __init__(
        self,
        time_masks=2,
        time_width=0.1,
        freq_masks=2,
        freq_width=0.15,
        value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.time_masks, self.time_width = int(time_masks), float(time_width)
        self.freq_masks, self.freq_width = int(freq_masks), float(freq_width)
        self.value, self.seed = float(value), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _keep(self, batch, n, masks, width, dtype):
        """float [batch, n]: 0 inside any of `masks` random spans, else 1."""
        idx = keras.ops.cast(keras.ops.arange(n), dtype)[None, :]
        keep = keras.ops.ones((batch, n), dtype)
        for _ in range(masks):
            w = keras.ops.floor(
                keras.random.uniform((batch, 1), seed=self.seed_generator) * width * n
            )
            start = keras.ops.floor(
                keras.random.uniform((batch, 1), seed=self.seed_generator) * (n - w)
            )
            inside = keras.ops.logical_and(idx >= start, idx < start + w)
            keep = keep * (1.0 - keras.ops.cast(inside, dtype))
        return keep

    def call(self, x, training=None):
        if not training:
            return x
        batch = keras.ops.shape(x)[0]
        frames, bins = x.shape[1], x.shape[2]
        t = self._keep(batch, frames, self.time_masks, self.time_width, x.dtype)
        f = self._keep(batch, bins, self.freq_masks, self.freq_width, x.dtype)
        keep = t[:, :, None] * f[:, None, :]
        return x * keep + self.value * (1.0 - keep)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "time_masks": self.time_masks,
                "time_width": self.time_width,
                "freq_masks": self.freq_masks,
                "freq_width": self.freq_width,
                "value": self.value,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class TokenDropout(keras.layers.Layer):
    """Replaces a random `rate` of the real tokens of int ids [batch, length] with
    `oov_id` (TextVectorization's out-of-vocabulary id 1); padding (id 0) stays.

    Example:

    >>> import numpy as np
    >>> ids = np.array([[5, 6, 7, 8, 0, 0]] * 64, "int32")
    >>> out = TokenDropout(0.5, seed=0)(ids, training=True).numpy()
    >>> bool((out[:, 4:] == 0).all()), bool(0.3 < (out[:, :4] == 1).mean() < 0.7)
    (True, True)
    """

    def __init__(self, rate=0.1, oov_id=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.oov_id, self.seed = float(rate), int(oov_id), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=None):
        if not training or not self.rate:
            return ids
        drop = keras.random.uniform(keras.ops.shape(ids), seed=self.seed_generator) < self.rate
        drop = keras.ops.logical_and(drop, ids > self.oov_id)
        return keras.ops.where(drop, keras.ops.cast(self.oov_id, ids.dtype), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, ids, training=None):
        return keras.KerasTensor(ids.shape, dtype=ids.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "oov_id": self.oov_id, "seed": self.seed})
        return config


def input_augmenter(input_config, seed):
    """The training-only augmentation layer `inputs[].augment` puts in front of an image
    or text encoder's primary input, or None (augment off, or audio and tabular inputs:
    audio is augmented inside its encoder, on the log-mel frames).

    Example:

    >>> from types import SimpleNamespace
    >>> image = SimpleNamespace(name="photo", type="image", augment=True)
    >>> type(input_augmenter(image, 0)).__name__, input_augmenter(image, 0).name
    ('ImageAugmentation', 'photo_augment')
    >>> input_augmenter(SimpleNamespace(name="clip", type="audio", augment=True), 0) is None
    True
    """
    if not input_config.augment or input_config.type not in ("image", "text"):
        return None
    name = f"{input_config.name}_augment"
    if input_config.type == "image":
        return ImageAugmentation(seed=seed, name=name)
    return TokenDropout(0.1, seed=seed, name=name)
