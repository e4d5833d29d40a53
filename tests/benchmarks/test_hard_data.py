"""The hard benchmark data generator and the hand-written peer (not their figures)."""

import csv
import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.hard_data import make_hard_dataset


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.mark.parametrize("variant,classes", [("complementary", 12), ("redundant", 10)])
def test_files_decode_and_labels_are_balanced(tmp_path, variant, classes):
    paths = make_hard_dataset(str(tmp_path / "d"), variant, n=2 * classes, seed=3)
    rows = [r for split in ("train", "val", "test") for r in _rows(paths[split])]
    assert len(rows) == 2 * classes
    counts = {}
    for r in rows:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    assert sorted(counts.values()) == [2] * classes
    sizes, rates = set(), set()
    for r in rows:
        img = tf.io.decode_image(tf.io.read_file(str(tmp_path / "d" / r["image_path"])))
        sizes.add(tuple(img.shape[:2]))
        wav, rate = tf.audio.decode_wav(tf.io.read_file(str(tmp_path / "d" / r["audio_path"])))
        rates.add(int(rate))
        assert 0.8 <= wav.shape[0] / int(rate) <= 2.0
        assert 8 <= len(r["caption"].split()) <= 30
    assert len(sizes) > classes  # images of many sizes
    if variant == "complementary":
        shape, word, mood = rows[0]["label"].split("-")
        assert shape in ("circle", "square", "triangle") and mood in ("calm", "angry")


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = make_hard_dataset(str(tmp_path / "a"), n=12, seed=1)
    make_hard_dataset(str(tmp_path / "b"), n=12, seed=1)
    make_hard_dataset(str(tmp_path / "c"), n=12, seed=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")
    assert set(a) == {"train", "val", "test"}


def test_the_text_signal_word_is_there_and_buried():
    from benchmarks.hard_data import MOODS, make_text

    rng = np.random.default_rng(0)
    for _ in range(50):
        words = make_text(rng, MOODS[0], MOODS[1]).split()
        assert sum(w in MOODS[0] for w in words) == 1 and len(words) >= 9
        # A word of the other class, when present, is negated.
        for k, w in enumerate(words):
            if w in MOODS[1]:
                assert words[k - 1] == "not"


def test_unknown_variant_is_refused(tmp_path):
    with pytest.raises(
        ValueError, match="variant must be 'complementary' or 'redundant'. Received: variant='easy'"
    ):
        make_hard_dataset(str(tmp_path), "easy", n=4)


def test_redundant_rows_miss_each_signal_independently(tmp_path):
    # Version 2: about a quarter of captions hold no topic word of their class, and a
    # clip without its word is noise alone; the rest hold exactly one.
    from benchmarks.hard_data import SIGNAL_DROPOUT, TOPICS, make_audio

    paths = make_hard_dataset(str(tmp_path / "d"), "redundant", n=200, seed=4)
    rows = [r for split in ("train", "val", "test") for r in _rows(paths[split])]
    names = [f"{t[0]}" for t in TOPICS]
    missing = 0
    for r in rows:
        topic = TOPICS[names.index(r["label"].split("-")[1])]
        found = sum(w in topic for w in r["caption"].split())
        assert found in (0, 1)
        missing += found == 0
    assert abs(missing / len(rows) - SIGNAL_DROPOUT) < 0.08
    on = make_audio(np.random.default_rng(7), 3, 10, 16000)
    off = make_audio(np.random.default_rng(7), 3, 10, 16000, present=False)
    assert on.shape == off.shape and not np.allclose(on, off)
    # Noise alone: the same noise as with the word, the word's part removed.
    assert np.std(off) < np.std(on)
