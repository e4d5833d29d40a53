"""`data.cache`: decoded examples kept from the first pass, in memory or on disk."""

import hashlib
import shutil

import numpy as np
import pytest

import tfmm
from tests.data.conftest import small_demo_config
from tests.helpers import with_input


@pytest.fixture()
def own_demo(demo_dir, tmp_path):
    """A copy of the demo data this test may change."""
    return shutil.copytree(demo_dir, tmp_path / "demo")


def _fingerprints(ds):
    """{md5 of an example's image pixels and audio samples: how many such examples} over
    one pass."""
    out = {}
    for x, _ in ds:
        for image, audio in zip(x["image"].numpy(), x["audio"].numpy()):
            key = hashlib.md5(image.tobytes() + audio.tobytes()).hexdigest()
            out[key] = out.get(key, 0) + 1
    return out


def _dataset(config, data, training=True):
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(str(data / "train.csv")))
    return tfmm.data.make_dataset(
        config, str(data / "train.csv"), vocabs, training=training, batch_size=4
    )


def _scramble_images(data):
    """Rewrites every image file with other pixels (same format, size and name)."""
    from PIL import Image

    for path in (data / "images").iterdir():
        with Image.open(path) as im:
            fmt, size = im.format, im.size
        Image.fromarray(np.full((size[1], size[0], 3), 7, np.uint8)).save(path, fmt)


@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cache_gives_the_uncached_examples_and_no_decode_after_the_first_pass(
    own_demo, tmp_path, cache
):
    value = "memory" if cache == "memory" else str(tmp_path / "cache")
    plain = _fingerprints(
        _dataset(small_demo_config(own_demo, deterministic=True), own_demo, training=False)
    )
    config = small_demo_config(own_demo, cache=value)
    assert config.data.cache_mode == cache
    ds = _dataset(config, own_demo)
    first = _fingerprints(ds)
    # Training drops the last partial batch: every full batch's examples, each once.
    assert sum(first.values()) == sum(plain.values()) // 4 * 4 and set(first) <= set(plain)
    if cache == "disk":
        assert any((tmp_path / "cache").rglob("*.snapshot"))
        # (Whether a new pipeline over the same files, a later run, reuses the snapshot
        # is tf.data's fingerprint's business: under load a rebuilt pipeline has twice
        # got a new fingerprint and written a second snapshot. Not asserted.)
    _scramble_images(own_demo)
    # The second pass reads the cache: the images decoded before the files changed, in
    # a new order (shuffled after the cache).
    assert _fingerprints(ds) == first
    if cache == "disk":
        # One with other preprocessing gets its own.
        other = small_demo_config(own_demo, cache=value, seed=1)
        other = with_input(other, 1, image_size=16)
        assert set(_fingerprints(_dataset(other, own_demo))).isdisjoint(plain)


def test_disk_cache_of_an_interrupted_pass_is_not_used(own_demo, tmp_path):
    # A one-row shuffle buffer: the first batch reads only a few rows (the default
    # buffer would read the whole split into it, completing the pass). The split is the
    # training rows 25 times over (400 rows), more than tf.data's prefetching reads ahead
    # of one batch: with 16 rows it could complete the pass behind the test's back.
    manifest = own_demo / "train.csv"
    header, *rows = manifest.read_text().splitlines()
    manifest.write_text("\n".join([header, *rows * 25]) + "\n")
    config = small_demo_config(own_demo, cache=str(tmp_path / "cache"), shuffle_buffer=1)
    ds = _dataset(config, own_demo)
    before = _fingerprints(_dataset(small_demo_config(own_demo), own_demo, training=False))
    for _ in ds.take(1):  # the pass stops after one batch, as a killed run's would
        pass
    _scramble_images(own_demo)
    # Nothing committed: every example is decoded again, from the changed files.
    scrambled = _fingerprints(ds)
    assert set(scrambled).isdisjoint(before)


@pytest.mark.parametrize(
    "value, mode",
    [
        (False, "none"),
        ("none", "none"),
        (True, "memory"),
        ("memory", "memory"),
        ("cache_dir", "disk"),
    ],
)
def test_cache_setting_modes(demo_dir, value, mode):
    assert small_demo_config(demo_dir, cache=value).data.cache_mode == mode


def test_empty_cache_folder_is_refused(demo_dir):
    with pytest.raises(tfmm.ConfigError, match=r"data\.cache: expected true, false"):
        small_demo_config(demo_dir, cache="")


def test_cache_keeps_training_shuffled_every_pass(own_demo):
    config = small_demo_config(own_demo, cache="memory")
    ds = _dataset(config, own_demo)

    def order():
        return [hashlib.md5(a.tobytes()).hexdigest() for x, _ in ds for a in x["audio"].numpy()]

    first, second = order(), order()
    assert sorted(first) == sorted(second) and first != second
    assert len(first) == len(set(first))


def test_disk_cache_takes_examples_larger_than_256_kb(own_demo, tmp_path):
    # A 5 s clip is 320 KB of float32: tf.data's snappy snapshot reader refuses it.
    config = small_demo_config(own_demo, cache=str(tmp_path / "cache"))
    config = with_input(config, 2, clip_seconds=5.0)
    ds = _dataset(config, own_demo)
    first = _fingerprints(ds)
    assert _fingerprints(ds) == first and sum(first.values()) == 16
