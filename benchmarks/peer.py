"""The hand-written peer: the plain Keras model a user writes without tfmm.

A small CNN on 64 px images, TextVectorization + Conv1D on text, a log-mel + Conv1D on
the first 2 s of audio (resampled to 16 kHz when a clip has another rate, as tfmm's
inputs are), `Concatenate`, Dense, Adam: about 100 lines, no tfmm import. What a careful
user adds is here too: the learning rate is an argument (the quality benchmark's protocol
tunes it on validation over the same grid as tfmm's), and the weights kept are the best
validation epoch's (ties broken by the validation loss, tfmm's rule), not the last.
The quality benchmark trains it on the same manifests, input sizes and budget as tfmm's.
"""

import csv
import os

import keras
import numpy as np
import tensorflow as tf

IMAGE, SECONDS, RATE = 64, 2.0, 16000


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    base = os.path.dirname(os.path.abspath(path))
    return {
        "text": [r["caption"] for r in rows],
        "image": [os.path.join(base, r["image_path"]) for r in rows],
        "audio": [os.path.join(base, r["audio_path"]) for r in rows],
    }, [r["label"] for r in rows]


def _resample(wav, rate):
    """Mono samples at `rate` to RATE (polyphase filter, scipy)."""
    from math import gcd

    from scipy.signal import resample_poly

    rate = int(rate)
    if rate == RATE:
        return wav
    g = gcd(rate, RATE)
    return resample_poly(wav, RATE // g, rate // g).astype(np.float32)


def _load(x, vectorize):
    img = tf.io.decode_image(tf.io.read_file(x["image"]), channels=3, expand_animations=False)
    img = tf.image.resize(tf.cast(img, tf.float32), (IMAGE, IMAGE)) / 255.0
    wav, rate = tf.audio.decode_wav(tf.io.read_file(x["audio"]))
    mono = wav[:, 0]
    wav = tf.cond(
        tf.equal(rate, RATE),
        lambda: mono,
        lambda: tf.reshape(
            tf.numpy_function(_resample, [mono, rate], tf.float32, stateful=False), [-1]
        ),
    )[: int(SECONDS * RATE)]
    wav = tf.pad(wav, [[0, int(SECONDS * RATE) - tf.shape(wav)[0]]])
    spec = tf.abs(tf.signal.stft(wav, 400, 160, 512)) ** 2
    mel = tf.matmul(spec, tf.signal.linear_to_mel_weight_matrix(64, 257, RATE, 20, 8000))
    return {"text": vectorize(x["text"]), "image": img, "audio": tf.math.log(mel + 1e-6)}


def _dataset(columns, y, shuffle, seed, vectorize):
    ds = tf.data.Dataset.from_tensor_slices((columns, y))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed)
    return (
        ds.map(lambda x, t: (_load(x, vectorize), t), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(32)
        .prefetch(tf.data.AUTOTUNE)
    )


class KeepBest(keras.callbacks.Callback):
    """Keeps the weights of the best validation accuracy (ties: the lower validation
    loss) and restores them when training ends."""

    def __init__(self):
        super().__init__()
        self.best, self.weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        score = (logs["val_accuracy"], -logs["val_loss"])
        if self.best is None or score > self.best:
            self.best, self.weights = score, self.model.get_weights()

    def on_train_end(self, logs=None):
        self.model.set_weights(self.weights)


def _labels_and_vectorizer(train_csv):
    (xtr, ltr) = _read(train_csv)
    names = sorted(set(ltr))
    vectorize = keras.layers.TextVectorization(5000, output_sequence_length=32)
    vectorize.adapt(xtr["text"])
    return xtr, ltr, names, vectorize


def fit_peer(train_csv, val_csv, epochs=12, seed=0, learning_rate=1e-3, save=None):
    """Trains the peer on the training rows, keeping its best validation epoch; returns
    (best validation accuracy, model) and saves the model to `save` (a `.keras` path)
    when given. Reads no test row."""
    keras.utils.set_random_seed(seed)
    xtr, ltr, names, vectorize = _labels_and_vectorizer(train_csv)
    xva, lva = _read(val_csv)
    ids = {n: i for i, n in enumerate(names)}
    ytr, yva = (np.array([ids[v] for v in labels]) for labels in (ltr, lva))

    text = keras.Input((32,), dtype="int64", name="text")
    t = keras.layers.Embedding(5000, 64)(text)
    t = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(64, 3, activation="relu")(t))
    image = keras.Input((IMAGE, IMAGE, 3), name="image")
    i = image
    for f in (32, 64, 128):
        i = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(i)
        i = keras.layers.MaxPooling2D()(i)
    i = keras.layers.GlobalAveragePooling2D()(i)
    audio = keras.Input((int(1 + (SECONDS * RATE - 400) // 160), 64), name="audio")
    a = keras.layers.BatchNormalization()(audio)
    a = keras.layers.Conv1D(64, 5, activation="relu")(a)
    a = keras.layers.Conv1D(64, 5, activation="relu")(keras.layers.MaxPooling1D(2)(a))
    a = keras.layers.GlobalMaxPooling1D()(a)
    x = keras.layers.Dense(128, activation="relu")(keras.layers.Concatenate()([t, i, a]))
    out = keras.layers.Dense(len(names), activation="softmax")(keras.layers.Dropout(0.3)(x))
    model = keras.Model({"text": text, "image": image, "audio": audio}, out)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    keep = KeepBest()
    model.fit(
        _dataset(xtr, ytr, True, seed, vectorize),
        validation_data=_dataset(xva, yva, False, 0, vectorize),
        epochs=epochs,
        verbose=0,
        callbacks=[keep],
    )
    if save:
        model.save(save)
    return float(keep.best[0]), model


def predict_peer(train_csv, test_csv, model):
    """(test labels, predicted test labels, label names) of a fitted peer (a model or its
    `.keras` path); the vocabulary and label names are re-derived from the training rows."""
    if isinstance(model, str):
        model = keras.models.load_model(model)
    _, _, names, vectorize = _labels_and_vectorizer(train_csv)
    xte, lte = _read(test_csv)
    yte = np.array([names.index(v) for v in lte])
    pred = model.predict(_dataset(xte, yte, False, 0, vectorize), verbose=0).argmax(-1)
    return yte, pred, names


def train_peer(train_csv, val_csv, test_csv, epochs=12, seed=0, learning_rate=1e-3):
    """Trains the peer; returns (test labels, predicted test labels, label names)."""
    _, model = fit_peer(train_csv, val_csv, epochs, seed, learning_rate)
    return predict_peer(train_csv, test_csv, model)
