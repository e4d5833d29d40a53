"""A small multimodal classification dataset as real files, deterministic for a seed.

How it is made: each example's label is three independent bits, one per modality, named
`MOOD-TONE-PITCH` (8 classes):

- text  -> mood: the caption contains one word of a calm set ("quiet", "gentle", ...) or
  a stormy set ("loud", "raging", ...) among neutral filler;
- image -> tone: a shape (circle, square or triangle, a distractor) filled with a warm
  colour (red/orange/yellow) or a cool one (blue/teal/violet) on a noisy background;
  JPEG for even rows, PNG for odd ones, 64x64;
- audio -> pitch: a tone with harmonics in a low band (180-400 Hz) or a high band
  (1.2-2.4 kHz), 0.6-1.2 s long, with noise; 16 kHz 16-bit PCM WAV, every fifth clip
  stereo.

Each modality alone determines one bit, so a model that sees one modality can be right on
at most 2 of the 8 classes it must choose between: about 25% accuracy at best. A model that
fuses all three can reach 100%. Splits are 70/15/15 (train/val/test) manifests
(`caption,image_path,audio_path,label`) with paths relative to the output folder.
"""

import csv
import os

import numpy as np
import tensorflow as tf

CALM = ["quiet", "gentle", "peaceful", "serene", "still", "soft", "tranquil", "mild"]
STORMY = ["loud", "raging", "violent", "stormy", "wild", "fierce", "turbulent", "harsh"]
NOUNS = [
    "river",
    "city",
    "forest",
    "harbour",
    "street",
    "valley",
    "market",
    "garden",
    "station",
    "meadow",
]
TIMES = ["this morning", "at dusk", "after lunch", "all night", "on sunday", "today"]
FILLER = ["the", "a", "was", "felt", "seemed", "near", "and", "very", "rather", "again"]
TEMPLATES = [
    "the {noun} was {word} {time}",
    "{time} the {noun} felt {word} and {filler}",
    "a {word} {noun} {time}",
    "people said the {noun} seemed {word}",
    "{word} weather over the {noun} {time}",
]
MOODS, TONES, PITCHES = ("calm", "stormy"), ("warm", "cool"), ("low", "high")
LABELS = [f"{m}-{t}-{p}" for m in MOODS for t in TONES for p in PITCHES]


def _caption(rng, stormy):
    word = rng.choice(STORMY if stormy else CALM)
    return rng.choice(TEMPLATES).format(
        word=word, noun=rng.choice(NOUNS), time=rng.choice(TIMES), filler=rng.choice(FILLER)
    )


def _hsv_to_rgb(h, s, v):
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def _image(rng, cool, size=64):
    yy, xx = np.mgrid[0:size, 0:size]
    bg = rng.uniform(60, 190)
    img = np.clip(bg + rng.normal(0, 25, (size, size, 1)), 0, 255).repeat(3, -1)
    hue = rng.uniform(0.5, 0.75) if cool else rng.uniform(-0.02, 0.15) % 1.0
    color = np.array(_hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0))) * 255
    cx, cy = rng.uniform(18, size - 18, 2)
    r = rng.uniform(10, 20)
    shape = rng.integers(3)
    if shape == 0:
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    elif shape == 1:
        mask = (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
    else:
        mask = (yy - cy <= r) & (yy - cy >= -r + 2 * np.abs(xx - cx))
    img[mask] = color + rng.normal(0, 12, (mask.sum(), 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _audio(rng, high, sample_rate=16000):
    seconds = rng.uniform(0.6, 1.2)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = rng.uniform(1200, 2400) if high else rng.uniform(180, 400)
    wave = sum((0.6 / k) * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) for k in (1, 2, 3))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)
    wave = wave * envelope * rng.uniform(0.3, 0.8) + rng.normal(0, 0.05, t.shape)
    return np.clip(wave, -1, 1).astype(np.float32)


def make_demo_dataset(out_dir, n=600, seed=0, sample_rate=16000, image_size=64):
    """Writes the demo dataset (see the module docstring) under `out_dir`.

    Args:
        out_dir: str. Output folder (created).
        n: int. Number of examples (at least 16).
        seed: int. Same seed, same bytes.

    Returns:
        dict with the paths of the `train`, `val` and `test` manifests.

    Example:

    >>> import tempfile
    >>> paths = make_demo_dataset(tempfile.mkdtemp(), n=16, seed=1)
    >>> sorted(paths)
    ['test', 'train', 'val']
    """
    if n < 16:
        raise ValueError(f"make_demo_dataset: n must be at least 16. Received: n={n}")
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "audio"), exist_ok=True)
    rows = []
    for k in range(n):
        label_id = k % len(LABELS)  # balanced classes
        stormy, cool, high = (label_id >> 2) & 1, (label_id >> 1) & 1, label_id & 1
        img = _image(rng, cool, image_size)
        if k % 2 == 0:
            image_rel, data = f"images/{k:05d}.jpg", tf.io.encode_jpeg(img, quality=90)
        else:
            image_rel, data = f"images/{k:05d}.png", tf.io.encode_png(img)
        tf.io.write_file(os.path.join(out_dir, image_rel), data)
        wave = _audio(rng, high, sample_rate)
        if k % 5 == 4:
            wave = np.stack([wave, wave * 0.8], axis=-1)
        else:
            wave = wave[:, None]
        audio_rel = f"audio/{k:05d}.wav"
        tf.io.write_file(os.path.join(out_dir, audio_rel), tf.audio.encode_wav(wave, sample_rate))
        rows.append([_caption(rng, stormy), image_rel, audio_rel, LABELS[label_id]])
    paths = write_split_manifests(out_dir, rows, rng)
    with open(os.path.join(out_dir, "README.txt"), "w", encoding="utf-8") as f:
        f.write(f"tfmm demo dataset: n={n}, seed={seed}.\n\n{__doc__}")
    return paths


def write_split_manifests(out_dir, rows, rng):
    """Writes `rows` ([caption, image path, audio path, label]) as 70/15/15 train/val/test
    manifests in `out_dir`, split by one permutation drawn from `rng`; rows keep their
    generation order within a split. Returns {split: path}."""
    n = len(rows)
    order = rng.permutation(n)
    n_train, n_val = int(0.7 * n), int(0.15 * n)
    splits = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    paths = {}
    for split, idx in splits.items():
        path = os.path.join(out_dir, f"{split}.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["caption", "image_path", "audio_path", "label"])
            for i in sorted(idx):
                w.writerow(rows[i])
        paths[split] = path
    return paths


def demo_config(
    data_dir, modalities=("text", "image", "audio"), image_size=32, epochs=8, batch_size=32
):
    """The config dict of `tfmm demo` for the dataset in `data_dir` (tiny, CPU-friendly:
    compact CNNs for images and audio, a TextCNN for text). Its data paths are absolute,
    so the config means the same from any working directory."""
    data_dir = os.path.abspath(data_dir)
    inputs = {
        "text": {
            "name": "text",
            "type": "text",
            "column": "caption",
            "encoder": {
                "type": "textcnn",
                "vocab_size": 200,
                "sequence_length": 16,
                "embedding_dim": 32,
                "kernel_sizes": [1, 2, 3],
                "filters": 32,
                "dropout": 0.2,
            },
        },
        "image": {
            "name": "image",
            "type": "image",
            "column": "image_path",
            "image_size": image_size,
            "encoder": {"type": "cnn", "filters": [16, 32, 64]},
        },
        "audio": {
            "name": "audio",
            "type": "audio",
            "column": "audio_path",
            "clip_seconds": 1.0,
            "sample_rate": 16000,
            "encoder": {
                "type": "cnn",
                "filters": [16, 32, 64],
                "num_mel_bins": 32,
                "frame_length": 400,
                "frame_step": 320,
            },
        },
    }
    return {
        "name": "demo",
        "inputs": [inputs[m] for m in modalities],
        "fusion": {"type": "concat", "hidden_units": [64], "dropout": 0.1, "normalize": True},
        "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
        "data": {
            "train": os.path.join(data_dir, "train.csv"),
            "val": os.path.join(data_dir, "val.csv"),
            "test": os.path.join(data_dir, "test.csv"),
            "batch_size": batch_size,
            "seed": 0,
        },
        "training": {"epochs": epochs, "learning_rate": 2e-3},
    }
