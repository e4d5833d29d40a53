"""1b. The input pipeline at real sizes: phone-photo JPEGs (and some PNGs) to 224x224, 5 s
clips (a quarter at 44.1 kHz stereo, resampled), 64-token texts; tfmm's tf.data pipeline
against a hand-written `keras.utils.PyDataset` as a careful user writes it (PIL with
`draft`, the reduced JPEG decode, + `wave` + numpy, at its best worker count; the same
loader decoding in full is reported beside it), against the physical bound (the same
images decoded at the same DCT scale by libjpeg on every core, nothing else), and the
`data.cache` modes.

    python -m benchmarks.run --only input_pipeline_224
    python -m benchmarks.input_pipeline_224 --n 96      # prints the figures only

Figures: examples/s of each loader over whole passes (best of alternated repeats), tfmm
with `jpeg_scale: auto` (the default) and `full`; the pixel difference between the two
decodes, and of each against an antialiased reference (full decode, `tf.image.resize`
with antialiasing); examples/s of the first and the second pass under `data.cache: none`,
`memory` and a folder.
"""

import argparse
import csv
import os
import shutil
import time
import wave

import numpy as np

NAME = "input_pipeline_224"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (2, 4)
SIZE = 224
SECONDS = 5.0
TOKENS = 64
BATCH = 16
# (height, width) of the photos, cycled: landscape, portrait and square phone and camera
# frames from 0.3 to 12 MP.
SHAPES = [
    (480, 640),
    (3000, 4000),
    (1080, 1920),
    (4032, 3024),
    (1536, 2048),
    (2000, 2000),
    (1920, 1080),
    (2448, 3264),
]
WORDS = [f"w{i}" for i in range(2000)]


def _photo(rng, h, w):
    """Smooth light and colour, a few hard-edged objects and sensor noise: the entropy of
    a photo rather than of white noise (which JPEG cannot compress)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = rng.uniform(0.5, 3.0, 3)
    image = np.stack(
        [
            128 + 90 * np.sin(xx / w * f[0] * np.pi + yy / h * f[1]),
            128 + 90 * np.cos(yy / h * f[2] * np.pi),
            128 + 60 * np.sin((xx + yy) / (h + w) * 5),
        ],
        -1,
    )
    for _ in range(6):
        y0, x0 = rng.integers(0, h * 3 // 4), rng.integers(0, w * 3 // 4)
        image[y0 : y0 + rng.integers(h // 10, h // 4), x0 : x0 + rng.integers(w // 10, w // 4)] = (
            rng.uniform(0, 255, 3)
        )
    image += rng.normal(0, 3, (h, w, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_data(root, n, seed=0):
    """`root/train.csv` with n rows and their files (made once)."""
    from PIL import Image

    manifest = os.path.join(root, "train.csv")
    if os.path.exists(manifest):
        return manifest
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "media"))
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        h, w = SHAPES[k % len(SHAPES)]
        png = k % 7 == 3 and h * w <= 2_100_000  # some PNGs, of the smaller frames
        image = f"media/{k}.{'png' if png else 'jpg'}"
        Image.fromarray(_photo(rng, h, w)).save(
            os.path.join(tmp, image), **({} if png else {"quality": 90})
        )
        rate, channels = (44100, 2) if k % 4 == 1 else (16000, 1)
        t = np.arange(int(rate * SECONDS)) / rate
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t) + rng.normal(0, 0.05, t.size)
        pcm = (np.clip(tone, -1, 1) * 32767).astype("<i2")
        audio = f"media/{k}.wav"
        with wave.open(os.path.join(tmp, audio), "wb") as f:
            f.setnchannels(channels)
            f.setsampwidth(2)
            f.setframerate(rate)
            f.writeframes(np.repeat(pcm, channels).tobytes())
        caption = " ".join(rng.choice(WORDS, TOKENS))
        rows.append(
            {"caption": caption, "image_path": image, "audio_path": audio, "label": f"c{k % 4}"}
        )
    with open(os.path.join(tmp, "train.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, root)
    return manifest


def config(manifest, jpeg_scale="auto", cache=False, batch=BATCH):
    import tfmm

    return tfmm.config_from_dict(
        {
            "name": "pipeline224",
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "column": "caption",
                    "encoder": {"type": "textcnn", "vocab_size": 3000, "sequence_length": TOKENS},
                },
                {
                    "name": "image",
                    "type": "image",
                    "column": "image_path",
                    "image_size": SIZE,
                    "jpeg_scale": jpeg_scale,
                    "encoder": {"type": "cnn"},
                },
                {
                    "name": "audio",
                    "type": "audio",
                    "column": "audio_path",
                    "sample_rate": 16000,
                    "clip_seconds": SECONDS,
                    "resample": True,
                    "encoder": {"type": "cnn"},
                },
            ],
            "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
            "data": {"train": manifest, "batch_size": batch, "cache": cache},
        }
    )


def _loader_class(draft=True):
    import keras

    from benchmarks.input_pipeline import HandWrittenLoader

    class Loader(HandWrittenLoader):
        """The 64x64 benchmark's loader, with linear resampling of other rates (numpy),
        and (`draft`) Pillow's `draft`: libjpeg decodes a JPEG straight to the smallest
        DCT scale (1/2 to 1/8) still at least the target size, what a careful user
        writes for large photos."""

        def _image(self, path):
            if not draft:
                return super()._image(path)
            from PIL import Image

            with Image.open(os.path.join(self.base, path)) as im:
                im.draft("RGB", (self.image_size, self.image_size))
                im = im.convert("RGB").resize((self.image_size, self.image_size), Image.BILINEAR)
                return np.asarray(im, np.float32) / 255.0

        def _audio(self, path):
            with wave.open(os.path.join(self.base, path)) as w:
                frames = w.readframes(w.getnframes())
                channels, rate = w.getnchannels(), w.getframerate()
            mono = (
                (np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0)
                .reshape(-1, channels)
                .mean(axis=1)
            )
            if rate != 16000:
                t = np.arange(int(len(mono) * 16000 / rate)) * (rate / 16000)
                mono = np.interp(t, np.arange(len(mono)), mono).astype(np.float32)
            mono = mono[: self.samples]
            out = np.zeros(self.samples, np.float32)
            out[: len(mono)] = mono
            return out, len(mono)

    assert issubclass(Loader, keras.utils.PyDataset)
    return Loader


def _pass_rate(make_iterator, batches):
    """Examples/s over `batches` batches of a fresh iterator, timed from its creation: a
    timer started after the first batch would credit a loader with the batches its
    workers had prepared meanwhile (4 PyDataset workers on 2 cores then read at twice
    2 workers' rate)."""
    t = time.perf_counter()
    it = make_iterator()
    for _ in range(batches):
        next(it)
    return batches * BATCH / (time.perf_counter() - t)


def pipeline_rates(manifest, repeats=2, log=print):
    import tfmm
    from benchmarks.input_pipeline import _py_batches

    rows = len(tfmm.data.Manifest(manifest))
    batches = rows // BATCH
    out = {}
    datasets = {}
    for mode in ("auto", "full"):
        cfg = config(manifest, jpeg_scale=mode)
        vocabs = tfmm.data.fit_preprocessing(cfg, tfmm.data.Manifest(manifest))
        datasets[mode] = tfmm.data.make_dataset(
            cfg, manifest, vocabs, training=True, repeat=True, with_labels=False
        )

    def loader(w, draft):
        return _loader_class(draft)(
            manifest,
            vocabs["text"],
            BATCH,
            SIZE,
            int(16000 * SECONDS),
            TOKENS,
            workers=w,
            use_multiprocessing=False,
        )

    loaders = {f"py{w}": loader(w, True) for w in (1, 2, 4)}
    loaders["py_full_decode"] = loader(4, False)  # the peer before it used `draft`
    rates = {k: 0.0 for k in ("auto", "full", *loaders, "bound")}
    for _ in range(repeats):  # alternated, best of each: other load drifts
        for mode, ds in datasets.items():
            rates[mode] = max(rates[mode], _pass_rate(lambda ds=ds: iter(ds), batches))
        for name, lo in loaders.items():
            rates[name] = max(rates[name], _pass_rate(lambda lo=lo: _py_batches(lo), batches))
        rates["bound"] = max(rates["bound"], decode_bound(manifest))
        log("  " + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    best = max((k for k in loaders if k != "py_full_decode"), key=lambda k: rates[k])
    out.update(
        tfmm_examples_per_s=rates["auto"],
        tfmm_full_decode_examples_per_s=rates["full"],
        pydataset_examples_per_s=rates[best],
        pydataset_workers=int(best[2:]),
        pydataset_by_workers={int(k[2:]): rates[k] for k in loaders if k != "py_full_decode"},
        pydataset_full_decode_examples_per_s=rates["py_full_decode"],
        decode_bound_examples_per_s=rates["bound"],
        tfmm_over_bound=rates["auto"] / rates["bound"],
    )
    return out


def _decode_draft(path):
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (SIZE, SIZE))
        im.load()
    return im.size


def decode_bound(manifest):
    """The physical bound of the image work: examples/s of decoding the manifest's images
    at the DCT scale `draft` picks (libjpeg through Pillow; PNGs in full), one process per
    core, and nothing else (no resize, audio or text)."""
    from concurrent.futures import ProcessPoolExecutor

    base = os.path.dirname(manifest)
    with open(manifest) as f:
        paths = [os.path.join(base, r["image_path"]) for r in csv.DictReader(f)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_decode_draft, paths[: os.cpu_count()]))  # workers started
        t = time.perf_counter()
        list(pool.map(_decode_draft, paths, chunksize=4))
        return len(paths) / (time.perf_counter() - t)


def pixel_difference(manifest, limit=24):
    """Mean and 99th-percentile |difference| (0-255 scale) of the 224x224 pixels:
    reduced against full decode, and each against an antialiased reference."""
    import tensorflow as tf

    from tfmm.data.image import decode_image

    base = os.path.dirname(manifest)
    with open(manifest) as f:
        paths = [os.path.join(base, r["image_path"]) for r in csv.DictReader(f)]
    paths = [p for p in paths if p.endswith(".jpg")][:limit]
    diffs = {"auto_vs_full": [], "auto_vs_antialiased": [], "full_vs_antialiased": []}
    for p in paths:
        data = tf.io.read_file(p)
        auto = decode_image(data, (SIZE, SIZE), jpeg_scale_mode="auto").numpy()
        full = decode_image(data, (SIZE, SIZE), jpeg_scale_mode="full").numpy()
        pixels = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
        reference = tf.image.resize(pixels, (SIZE, SIZE), antialias=True).numpy()
        diffs["auto_vs_full"].append(np.abs(auto - full))
        diffs["auto_vs_antialiased"].append(np.abs(auto - reference))
        diffs["full_vs_antialiased"].append(np.abs(full - reference))
    return {
        k: {"mean": float(np.mean(v)), "p99": float(np.percentile(np.stack(v), 99))}
        for k, v in diffs.items()
    }


def cache_rates(manifest, work):
    """Examples/s of the first and second training pass under each `data.cache`."""
    import tfmm

    out = {}
    for name, value in (
        ("none", False),
        ("memory", "memory"),
        ("disk", os.path.join(work, "cache224")),
    ):
        if name == "disk":
            shutil.rmtree(value, ignore_errors=True)
        cfg = config(manifest, cache=value)
        vocabs = tfmm.data.fit_preprocessing(cfg, tfmm.data.Manifest(manifest))
        ds = tfmm.data.make_dataset(cfg, manifest, vocabs, training=True, with_labels=False)
        rates = []
        for _ in range(2):
            t, n = time.perf_counter(), 0
            for x in ds:
                n += int(x["image"].shape[0])
            rates.append(n / (time.perf_counter() - t))
        out[name] = {"first_pass": rates[0], "second_pass": rates[1]}
    return out


def run(root, quick=True, log=print):
    n = 96 if quick else 192
    manifest = make_data(os.path.join(root, f"media224_{n}"), n)
    out = pipeline_rates(manifest, repeats=2 if quick else 3, log=log)
    # Against the careful peer (Pillow's `draft`, its best worker count).
    ratio = out["tfmm_examples_per_s"] / out["pydataset_examples_per_s"]
    out["pixels"] = pixel_difference(manifest)
    out["cache"] = cache_rates(manifest, root)
    log(
        f"tfmm (jpeg_scale auto): {out['tfmm_examples_per_s']:.1f} examples/s, full decode "
        f"{out['tfmm_full_decode_examples_per_s']:.1f}; PyDataset "
        f"{out['pydataset_examples_per_s']:.1f} ({out['pydataset_workers']} workers, "
        f"draft; {out['pydataset_full_decode_examples_per_s']:.1f} decoding in full); "
        f"libjpeg bound {out['decode_bound_examples_per_s']:.1f} (tfmm / bound "
        f"{out['tfmm_over_bound']:.2f})"
    )
    log(f"pixels: {out['pixels']}")
    log(f"cache: {out['cache']}")
    log(f"{NAME}: ratio={ratio:.2f}")
    return {"ratio": ratio, "goal": ">= 3", **out}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-bench224")
    p.add_argument("--n", type=int, default=96)
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    manifest = make_data(os.path.join(args.work, f"media224_{args.n}"), args.n)
    print(pipeline_rates(manifest))
    print(pixel_difference(manifest))
    print(cache_rates(manifest, args.work))


if __name__ == "__main__":
    main()
