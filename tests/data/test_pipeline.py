import hashlib
import os
import wave

import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.data.audio import decode_audio
from tfmm.data.image import decode_image
from tests.data.conftest import small_demo_config


def _train(demo_dir):
    return str(demo_dir / "train.csv")


def _fit(config, demo_dir):
    return tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(_train(demo_dir)))


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append({k: v.numpy() for k, v in x.items()})
        ys.append({k: v.numpy() for k, v in y.items()})
    cat = lambda parts: {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}  # noqa
    return cat(xs), cat(ys)


def test_pipeline_equals_a_straightforward_reference_decode(demo_dir):
    config = small_demo_config(demo_dir, deterministic=True)
    vocabs = _fit(config, demo_dir)
    manifest = tfmm.data.Manifest(_train(demo_dir))
    x, y = _collect(tfmm.data.make_dataset(config, _train(demo_dir), vocabs, batch_size=5))
    n = len(manifest)
    assert x["image"].shape == (n, 32, 32, 3) and x["audio"].shape == (n, 8000)
    paths = manifest.columns["image_path"]
    jpeg = [i for i, p in enumerate(paths) if p.endswith(".jpg")][:2]
    png = [i for i, p in enumerate(paths) if p.endswith(".png")][:2]
    assert len(jpeg) == len(png) == 2, "the demo data should hold both formats"
    for row in jpeg + png:
        # Image: PIL decode + the same bilinear resize.
        from PIL import Image

        path = manifest.resolve(manifest.columns["image_path"][row])
        pixels = np.asarray(Image.open(path).convert("RGB"), np.float32)
        ref = tf.image.resize(pixels, (32, 32)).numpy()
        tol = 0.0 if path.endswith(".png") else 3.0  # JPEG decoders may differ slightly
        assert np.abs(x["image"][row] - ref).mean() <= tol + 1e-4
        # Audio: the `wave` module, int16 / 32768, channels averaged, cropped/padded.
        with wave.open(manifest.resolve(manifest.columns["audio_path"][row])) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
            pcm = pcm.reshape(-1, w.getnchannels()).astype(np.float32) / 32768.0
        mono = pcm.mean(axis=1)[:8000]
        np.testing.assert_allclose(x["audio"][row][: len(mono)], mono, atol=1e-6)
        assert x["audio_length"][row] == len(mono)
        assert not x["audio"][row][len(mono) :].any()
        # Text: the adapted TextVectorization.
        words = manifest.columns["caption"][row].lower().split()
        vocab = vocabs["text"]
        ids = [vocab.index(w) if w in vocab else 1 for w in words][:16]
        assert x["text"][row][: len(ids)].tolist() == ids
        # Label: index in the sorted label vocabulary.
        assert y["label"][row] == config.outputs[0].labels.index(manifest.columns["label"][row])


def _pil_bytes(pixels, fmt):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def test_image_formats_modes_and_pad_resize():
    # Four colours, so that GIF's palette holds them exactly.
    rng = np.random.default_rng(0)
    palette = np.array([[200, 30, 30], [20, 180, 40], [10, 20, 220], [250, 250, 250]], np.uint8)
    rgb = palette[rng.integers(0, 4, (6, 12))]
    gray = rgb[..., :1]
    rgba = np.concatenate([rgb, np.full((6, 12, 1), 255, np.uint8)], -1)
    exact = {
        "png": tf.io.encode_png(rgb),
        "png rgba": tf.io.encode_png(rgba),
        "bmp": _pil_bytes(rgb, "BMP"),
        "gif": _pil_bytes(rgb, "GIF"),
    }
    assert exact["bmp"][:2] == b"BM" and exact["gif"][:3] == b"GIF"
    for name, data in exact.items():
        out = decode_image(tf.constant(data), (6, 12)).numpy()
        np.testing.assert_array_equal(out, rgb.astype(np.float32), err_msg=name)
    # JPEG is lossy: compare with PIL's decode of the same bytes (decoders may differ by
    # a little rounding).
    import io

    from PIL import Image

    data = _pil_bytes(rgb, "JPEG")
    jpeg = decode_image(tf.constant(data), (6, 12)).numpy()
    ref = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    assert jpeg.shape == (6, 12, 3) and np.abs(jpeg - ref).mean() < 3.0
    np.testing.assert_allclose(
        decode_image(tf.io.encode_png(gray), (6, 12)).numpy(),
        np.repeat(gray, 3, -1).astype(np.float32),
    )
    padded = decode_image(tf.io.encode_png(rgb), (12, 12), resize="pad").numpy()
    assert padded[:3].sum() == 0 and padded[-3:].sum() == 0 and padded[3:9].sum() > 0


def test_large_jpeg_is_decoded_at_a_reduced_scale_under_jpeg_scale_auto():
    import io

    from PIL import Image

    yy, xx = np.mgrid[0:960, 0:1280]
    smooth = np.stack(
        [128 + 100 * np.sin(xx / 90.0), 128 + 100 * np.cos(yy / 70.0), (xx + yy) % 256], -1
    ).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(smooth).save(buf, "JPEG", quality=90)
    data = tf.constant(buf.getvalue())
    auto = decode_image(data, (64, 64), jpeg_scale_mode="auto").numpy()
    # 960 x 1280 covers 64 x 64 at 1/8: the pixels are the 1/8 decode's, resized.
    eighth = tf.io.decode_jpeg(data, channels=3, ratio=8, dct_method="INTEGER_ACCURATE")
    assert eighth.shape == (120, 160, 3)
    np.testing.assert_allclose(auto, tf.image.resize(eighth, (64, 64)).numpy(), atol=1e-4)
    # And close to the full decode's on smooth content (each 1/8 pixel is an 8x8 mean).
    full = decode_image(data, (64, 64), jpeg_scale_mode="full").numpy()
    assert 0 < np.abs(auto - full).mean() < 3.0
    # A PNG, and a JPEG no larger than twice the target, decode as before.
    png = tf.io.encode_png(smooth[:100, :100])
    np.testing.assert_array_equal(
        decode_image(png, (64, 64), jpeg_scale_mode="auto"), decode_image(png, (64, 64))
    )
    small = tf.constant(_pil_bytes(smooth[:127, :200], "JPEG"))
    np.testing.assert_array_equal(
        decode_image(small, (64, 64), jpeg_scale_mode="auto"), decode_image(small, (64, 64))
    )


def test_audio_resample_crop_and_mono():
    t = np.arange(800) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    wav = tf.audio.encode_wav(np.stack([tone, -tone], -1), 8000)
    mono, n = decode_audio(wav, 16000, 4000, resample=True)
    assert int(n) == 1600 and mono.shape == (4000,)
    # Stereo channels cancel: the mono mix is silence.
    assert np.abs(mono.numpy()).max() < 1e-4
    wav = tf.audio.encode_wav(tone[:, None], 8000)
    up, n = decode_audio(wav, 16000, 4000, resample=True)
    ref = 0.5 * np.sin(2 * np.pi * 100 * np.arange(1600) / 16000)
    np.testing.assert_allclose(up.numpy()[:1598], ref[:1598], atol=2e-3)
    cropped, n = decode_audio(tf.audio.encode_wav(tone[:, None], 8000), 8000, 100)
    assert int(n) == 100
    np.testing.assert_allclose(cropped.numpy(), tone[:100], atol=1e-4)


def test_tfrecord_round_trip_gives_the_same_tensors(demo_dir, tmp_path):
    config = small_demo_config(demo_dir, deterministic=True)
    vocabs = _fit(config, demo_dir)
    files = tfmm.data.write_tfrecords(
        config, _train(demo_dir), str(tmp_path / "shards"), shards=1, verbose=False
    )
    assert [os.path.basename(f) for f in files] == ["train-00000-of-00001.tfrecord"]
    a = _collect(tfmm.data.make_dataset(config, _train(demo_dir), vocabs, batch_size=4))
    b = _collect(tfmm.data.make_dataset(config, files[0], vocabs, batch_size=4))
    for part_a, part_b in zip(a, b):
        assert sorted(part_a) == sorted(part_b)
        for k in part_a:
            np.testing.assert_array_equal(part_a[k], part_b[k])


def test_input_context_gives_disjoint_shards(demo_dir, tmp_path):
    config = small_demo_config(demo_dir, deterministic=True)
    vocabs = _fit(config, demo_dir)
    files = tfmm.data.write_tfrecords(
        config, _train(demo_dir), str(tmp_path / "s"), shards=4, verbose=False
    )
    pattern = str(tmp_path / "s" / "train-*.tfrecord")
    n = len(tfmm.data.Manifest(_train(demo_dir)))
    for source in (_train(demo_dir), pattern):
        seen = []
        for pid in range(2):
            ctx = tf.distribute.InputContext(
                num_input_pipelines=2, input_pipeline_id=pid, num_replicas_in_sync=2
            )
            ds = tfmm.data.make_dataset(config, source, vocabs, input_context=ctx, batch_size=4)
            batches = [x["audio"].numpy() for x, _ in ds]
            assert max(len(b) for b in batches) == 2  # per-replica batch = 4 / 2
            seen.append({hashlib.md5(a.tobytes()).hexdigest() for b in batches for a in b})
        assert not seen[0] & seen[1]
        assert len(seen[0] | seen[1]) == n
    assert len(files) == 4


def test_training_shuffle_is_seeded_and_drops_remainder(demo_dir):
    config = small_demo_config(demo_dir, deterministic=True)
    vocabs = _fit(config, demo_dir)

    def order():
        ds = tfmm.data.make_dataset(config, _train(demo_dir), vocabs, training=True, batch_size=4)
        return [int(v) for _, y in ds for v in y["label"].numpy()]

    first, second = order(), order()
    assert first == second
    n = len(tfmm.data.Manifest(_train(demo_dir)))
    assert len(first) == n - n % 4
    # Each pass over the dataset (an epoch) is a fresh permutation of the rows: no row
    # twice, every row but the dropped remainder, a different order each epoch.
    ds = tfmm.data.make_dataset(config, _train(demo_dir), vocabs, training=True, batch_size=4)
    reference = _collect(tfmm.data.make_dataset(config, _train(demo_dir), vocabs))[0]
    rows = {
        hashlib.sha1(
            reference["image"][i].tobytes() + reference["text"][i].tobytes()
        ).hexdigest(): i
        for i in range(n)
    }
    assert len(rows) == n
    epochs = [
        [
            rows[
                hashlib.sha1(
                    x["image"][i].numpy().tobytes() + x["text"][i].numpy().tobytes()
                ).hexdigest()
            ]
            for x, _ in ds
            for i in range(len(x["image"]))
        ]
        for _ in range(3)
    ]
    for e in epochs:
        assert len(e) == len(set(e)) == n - n % 4
    assert epochs[0] != epochs[1] != epochs[2] and epochs[0] != epochs[2]
    assert epochs[0] != sorted(epochs[0])


def test_demo_dataset_is_deterministic(tmp_path):
    def digest(d):
        h = hashlib.sha256()
        for root, _, files in sorted(os.walk(d)):
            for f in sorted(files):
                h.update(f.encode())
                h.update(open(os.path.join(root, f), "rb").read())
        return h.hexdigest()

    a = tfmm.data.make_demo_dataset(str(tmp_path / "a"), n=16, seed=7)
    tfmm.data.make_demo_dataset(str(tmp_path / "b"), n=16, seed=7)
    tfmm.data.make_demo_dataset(str(tmp_path / "c"), n=16, seed=8)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
    manifest = tfmm.data.Manifest(a["train"])
    assert any(p.endswith(".jpg") for p in manifest.columns["image_path"])
    assert any(p.endswith(".png") for p in manifest.columns["image_path"])
    assert (
        tfmm.data.check_manifest(
            tfmm.config_from_dict(tfmm.data.demo.demo_config(str(tmp_path / "a"))), manifest
        )
        == []
    )


def test_demo_label_is_one_bit_per_modality(tmp_path):
    from tfmm.data.demo import CALM, STORMY

    paths = tfmm.data.make_demo_dataset(str(tmp_path), n=32, seed=0)
    m = tfmm.data.Manifest(paths["train"])
    for caption, label in zip(m.columns["caption"], m.columns["label"]):
        words = set(caption.split())
        mood = "calm" if words & set(CALM) else "stormy"
        assert not (words & set(CALM) and words & set(STORMY))
        assert label.startswith(mood + "-")


@pytest.mark.slow
def test_plain_keras_fit_from_manifest_and_from_tfrecords(demo_dir, tmp_path):
    config = small_demo_config(demo_dir)
    vocabs = _fit(config, demo_dir)
    model = tfmm.compile_model(tfmm.build_model(config, vocabs), config)
    files = tfmm.data.write_tfrecords(
        config, _train(demo_dir), str(tmp_path / "s"), shards=2, verbose=False
    )
    for source in (_train(demo_dir), str(tmp_path / "s" / "*.tfrecord")):
        history = model.fit(
            tfmm.data.make_dataset(config, source, vocabs, training=True), epochs=1, verbose=0
        )
        assert np.isfinite(history.history["loss"][0])
    assert len(files) == 2


def test_tfds_source_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "image", "type": "image", "image_size": 32}],
            "outputs": [{"name": "label", "labels": [str(i) for i in range(10)]}],
            "data": {"tfds_features": {"image": "image", "label": "label"}, "batch_size": 4},
        }
    )
    with tfds.testing.mock_data(num_examples=8):
        ds = tfmm.data.make_dataset(config, "tfds:mnist/train")
        x, y = next(iter(ds))
    assert x["image"].shape == (4, 32, 32, 3) and x["image"].dtype == tf.float32
    assert y["label"].shape == (4,) and int(tf.reduce_max(y["label"])) < 10
    # Grayscale MNIST became RGB with equal channels.
    np.testing.assert_allclose(x["image"][..., 0], x["image"][..., 2])


def test_tfds_source_from_a_real_dataset_on_disk(tmp_path):
    # A tiny GeneratorBasedBuilder prepared on disk (no download), read back through the
    # pipeline by value: PNG pixels, class names and text in the dataset's order.
    import tensorflow_datasets as tfds

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    texts = [f"word{i} other" for i in range(6)]
    labels = [0, 1, 2, 1, 0, 2]

    class TfmmTinyShapes(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {
                        "picture": tfds.features.Image(shape=(8, 8, 3)),
                        "caption": tfds.features.Text(),
                        "kind": tfds.features.ClassLabel(names=["cat", "dog", "bird"]),
                    }
                ),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i in range(6):
                yield i, {"picture": images[i], "caption": texts[i], "kind": labels[i]}

    data_dir = str(tmp_path / "tfds")
    TfmmTinyShapes(data_dir=data_dir).download_and_prepare()
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {"name": "image", "type": "image", "image_size": 8},
                {
                    "name": "text",
                    "type": "text",
                    "column": "caption",
                    "encoder": {
                        "type": "textcnn",
                        "vocab_size": 20,
                        "sequence_length": 4,
                        "kernel_sizes": [2],
                        "filters": 2,
                    },
                },
            ],
            "outputs": [{"name": "label", "column": "kind", "labels": ["bird", "cat", "dog"]}],
            "data": {
                "tfds_features": {"picture": "image", "caption": "caption", "kind": "kind"},
                "tfds_data_dir": data_dir,
                "batch_size": 6,
            },
        }
    )
    vocab = ["", "[UNK]"] + [f"word{i}" for i in range(6)] + ["other"]
    x, y = next(
        iter(tfmm.data.make_dataset(config, "tfds:tfmm_tiny_shapes/train", {"text": vocab}))
    )
    # TFDS may reorder examples by key hash: match rows by their caption's token.
    order = [int(t[0]) - 2 for t in x["text"].numpy()]
    assert sorted(order) == list(range(6))
    np.testing.assert_array_equal(x["image"].numpy(), images[order].astype(np.float32))
    names = ["cat", "dog", "bird"]
    assert [config.outputs[0].labels[k] for k in y["label"].numpy()] == [
        names[labels[i]] for i in order
    ]
    np.testing.assert_array_equal(x["text"].numpy()[:, 1], 8)  # "other"
