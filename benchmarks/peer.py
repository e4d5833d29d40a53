"""The hand-written peer: the plain Keras model a user writes without tfmm.

A small CNN on 64 px images, TextVectorization + Conv1D on text, a log-mel + Conv1D on
the first 2 s of audio, `Concatenate`, Dense, Adam 1e-3: about 80 lines, no tfmm import.
The quality benchmark trains it on the same manifests and budget as tfmm's models.
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


def _load(x, vectorize):
    img = tf.io.decode_image(tf.io.read_file(x["image"]), channels=3, expand_animations=False)
    img = tf.image.resize(tf.cast(img, tf.float32), (IMAGE, IMAGE)) / 255.0
    wav, _ = tf.audio.decode_wav(tf.io.read_file(x["audio"]))
    wav = wav[: int(SECONDS * RATE), 0]
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


def train_peer(train_csv, val_csv, test_csv, epochs=12, seed=0):
    """Trains the peer; returns (test labels, predicted test labels, label names)."""
    keras.utils.set_random_seed(seed)
    (xtr, ltr), (xva, lva), (xte, lte) = _read(train_csv), _read(val_csv), _read(test_csv)
    names = sorted(set(ltr))
    ids = {n: i for i, n in enumerate(names)}
    ytr, yva, yte = (np.array([ids[v] for v in labels]) for labels in (ltr, lva, lte))
    vectorize = keras.layers.TextVectorization(5000, output_sequence_length=32)
    vectorize.adapt(xtr["text"])

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
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        _dataset(xtr, ytr, True, seed, vectorize),
        validation_data=_dataset(xva, yva, False, 0, vectorize),
        epochs=epochs,
        verbose=0,
    )
    pred = model.predict(_dataset(xte, yte, False, 0, vectorize), verbose=0).argmax(-1)
    return yte, pred, names
