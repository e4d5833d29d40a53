"""1. tfmm's tf.data pipeline vs a hand-written `keras.utils.PyDataset` loader.

Both read the demo manifest's files and produce the same model inputs: the image decoded
and resized to 64x64 float32, the WAV decoded, downmixed and padded/cropped to 1 s, the
caption lower-cased, split and looked up in the same vocabulary, padded to 16 ids. (The
log-mel spectrogram is a layer inside tfmm's models, so neither loader computes it.) The
PyDataset uses PIL, the `wave` module and numpy, with workers enabled, as tutorials do.
"""

import os
import re
import time
import wave

import keras
import numpy as np

import tfmm
from benchmarks.common import config_for, demo_data

NAME = "input_pipeline"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 2)


class HandWrittenLoader(keras.utils.PyDataset):
    def __init__(self, manifest, vocabulary, batch_size, image_size, samples, seq_len, **kwargs):
        super().__init__(**kwargs)
        import csv

        base = os.path.dirname(manifest)
        with open(manifest) as f:
            self.rows = list(csv.DictReader(f))
        self.base, self.batch_size = base, batch_size
        self.image_size, self.samples, self.seq_len = image_size, samples, seq_len
        self.index = {w: i for i, w in enumerate(vocabulary)}

    def __len__(self):
        return len(self.rows) // self.batch_size

    def _image(self, path):
        from PIL import Image

        with Image.open(os.path.join(self.base, path)) as im:
            im = im.convert("RGB").resize((self.image_size, self.image_size), Image.BILINEAR)
            return np.asarray(im, np.float32)

    def _audio(self, path):
        with wave.open(os.path.join(self.base, path)) as w:
            frames = w.readframes(w.getnframes())
            channels = w.getnchannels()
        pcm = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
        mono = pcm.reshape(-1, channels).mean(axis=1)[: self.samples]
        out = np.zeros(self.samples, np.float32)
        out[: len(mono)] = mono
        return out, len(mono)

    def _text(self, caption):
        words = re.sub(r"[^\w\s]", "", caption.lower()).split()[: self.seq_len]
        ids = np.zeros(self.seq_len, np.int32)
        ids[: len(words)] = [self.index.get(w, 1) for w in words]
        return ids

    def __getitem__(self, k):
        rows = self.rows[k * self.batch_size : (k + 1) * self.batch_size]
        audio = [self._audio(r["audio_path"]) for r in rows]
        return {
            "text": np.stack([self._text(r["caption"]) for r in rows]),
            "image": np.stack([self._image(r["image_path"]) for r in rows]),
            "audio": np.stack([a for a, _ in audio]),
            "audio_length": np.array([n for _, n in audio], np.int32),
        }


def examples_per_second(iterable, batches, batch_size):
    it = iter(iterable)
    next(it)  # warm-up: worker start, graph tracing
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - t)


def run(root, quick=True, log=print):
    n = 600 if quick else 2400
    data = demo_data(root, n)
    config, vocabs = config_for(data, image_size=64)
    train_csv = os.path.join(data, "train.csv")
    batch = 32
    ds = tfmm.data.make_dataset(
        config, train_csv, vocabs, training=True, repeat=True, with_labels=False
    )
    rows = len(tfmm.data.Manifest(train_csv))
    batches = (rows // batch) - 2
    loader = HandWrittenLoader(
        train_csv,
        vocabs["text"],
        batch,
        64,
        config.inputs[2].num_samples,
        16,
        workers=2,
        use_multiprocessing=False,
    )
    # Alternated, best of each: the machine's other load drifts during the run.
    tf_rate = py_rate = 0.0
    for _ in range(2 if quick else 3):
        tf_rate = max(tf_rate, examples_per_second(ds, batches, batch))
        py_rate = max(py_rate, examples_per_second(_py_batches(loader), batches, batch))
    ratio = tf_rate / py_rate
    log(f"tfmm tf.data pipeline: {tf_rate:8.1f} examples/s")
    log(f"PyDataset (PIL, wave, numpy; 2 workers): {py_rate:8.1f} examples/s")
    log(f"{NAME}: ratio={ratio:.2f}")
    return {
        "tfmm_examples_per_s": tf_rate,
        "pydataset_examples_per_s": py_rate,
        "ratio": ratio,
        "goal": ">= 3",
    }


def _py_batches(loader):
    # The adapter Keras uses in `fit`, so the workers run as they would in training.
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(loader, shuffle=False)
    while True:
        yield from adapter.get_numpy_iterator()
