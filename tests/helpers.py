"""Shared test helpers, in the manner of keras-hub's TestCase: each test is one call."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf
import yaml

import tfmm

# Tiny sizes everywhere: a 2-stage CNN at 32x32 (ResNet50, 24M parameters, has tests of
# its own), BERT 2 layers of width 16, 0.25 s audio.
TINY_TEXTCNN = {
    "type": "textcnn",
    "vocab_size": 40,
    "sequence_length": 8,
    "embedding_dim": 4,
    "kernel_sizes": [2, 3],
    "filters": 3,
    "dropout": 0.1,
}
TINY_LSTM = {
    "type": "lstm",
    "num_mel_bins": 8,
    "units": [4],
    "frame_length": 400,
    "frame_step": 160,
    "fft_length": 512,
}
TINY_INPUTS = {
    "text": {"name": "text", "type": "text", "encoder": TINY_TEXTCNN},
    "image": {
        "name": "image",
        "type": "image",
        "image_size": 32,
        "encoder": {"type": "cnn", "filters": [4, 8]},
    },
    "audio": {"name": "audio", "type": "audio", "clip_seconds": 0.25, "encoder": TINY_LSTM},
}
TINY_FUSION = {"type": "concat", "hidden_units": [8], "dropout": 0.0, "normalize": False}
# Every fusion strategy at tiny sizes, keyed by its `fusion.type`.
TINY_FUSIONS = {
    "concat": TINY_FUSION,
    "gated": {"type": "gated", "dim": 8, "hidden_units": [8], "dropout": 0.0},
    "gated_concat": {
        "type": "gated",
        "combine": "concat",
        "dim": 8,
        "hidden_units": [8],
        "dropout": 0.0,
    },
    "cross_attention": {
        "type": "cross_attention",
        "dim": 8,
        "num_heads": 2,
        "hidden_units": [8],
        "dropout": 0.0,
    },
    "single_stream": {
        "type": "single_stream",
        "dim": 8,
        "num_heads": 2,
        "num_layers": 1,
        "intermediate_dim": 16,
        "dropout": 0.0,
    },
    "late": {"type": "late", "hidden_units": [4], "dropout": 0.0},
}


def tiny_config(modalities=("text", "image", "audio"), outputs=None, optional=(), **extra):
    """A validated config with tiny encoders for the given modalities (those named in
    `optional` marked `optional: true`)."""
    outputs = outputs or [{"name": "label", "type": "multiclass", "labels": ["a", "b", "c"]}]
    inputs = [{**TINY_INPUTS[m], "optional": m in optional} for m in modalities]
    data = {"inputs": inputs, "fusion": TINY_FUSION, "outputs": outputs, **extra}
    return tfmm.config_from_dict(data)


def with_input(config, index, **changes):
    """A copy of `config` (configs are frozen) with `changes` to its input `index`."""
    inputs = list(config.inputs)
    inputs[index] = dataclasses.replace(inputs[index], **changes)
    return dataclasses.replace(config, inputs=inputs)


def random_inputs(model, batch=4, seed=0):
    """Random tensors matching each named input of `model`."""
    rng = np.random.default_rng(seed)
    x = {}
    for t in model.inputs:
        shape = (batch, *t.shape[1:])
        if t.name.endswith("_present"):
            x[t.name] = np.ones(shape, "float32")
        elif t.name.endswith("_length"):
            x[t.name] = rng.integers(0, t_len(model, t.name) + 1, size=batch).astype("int32")
        elif t.name.endswith("segment_ids"):
            x[t.name] = np.zeros(shape, t.dtype)
        elif t.dtype.startswith("int"):
            # Small ids: valid for every tiny vocabulary in the tests.
            x[t.name] = rng.integers(0, 5, size=shape).astype(t.dtype)
        elif t.dtype == "bool":
            x[t.name] = np.ones(shape, bool)
        elif len(shape) == 4:
            x[t.name] = rng.uniform(0, 255, size=shape).astype("float32")
        else:
            x[t.name] = rng.uniform(-1, 1, size=shape).astype("float32")
    return x


def t_len(model, length_name):
    """Samples per clip of the waveform input that `{name}_length` belongs to."""
    for t in model.inputs:
        if t.name == length_name[: -len("_length")]:
            return int(t.shape[1])
    raise KeyError(length_name)


def random_targets(config, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    y = {}
    for o in config.outputs:
        if o.type == "multiclass":
            y[o.name] = rng.integers(0, len(o.labels), size=batch)
        elif o.type == "binary":
            y[o.name] = rng.integers(0, 2, size=(batch, 1)).astype("float32")
        elif o.type == "multilabel":
            y[o.name] = rng.integers(0, 2, size=(batch, len(o.labels))).astype("float32")
        else:
            y[o.name] = rng.normal(size=(batch, o.num_targets)).astype("float32")
    return y


def randomize_weights(model, seed=2):
    """Gives every weight of `model` (a model or layer) a random value of a sensible scale,
    BatchNorm moving statistics included (variances in [0.5, 1.5]), so that outputs
    compared after an export or a reload depend on all of them. Instant, where a training
    step of a keras.applications backbone costs tens of seconds of tracing."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(v.shape)
        v.assign(
            rng.uniform(0.5, 1.5, shape)
            if "variance" in v.path
            else rng.normal(0, 0.3, shape)
            if len(shape) <= 1
            else rng.normal(0, 1.0 / np.sqrt(max(np.prod(shape[:-1]), 1)), shape)
        )


def assert_same_outputs(a, b, atol=1e-6):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for k in a:
            np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), atol=atol)
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol)


def run_serialization_test(layer):
    """get_config -> from_config gives the same config."""
    config = layer.get_config()
    revived = layer.__class__.from_config(config)
    assert revived.get_config() == config
    return revived


def run_model_saving_test(model, x, tmp_path, atol=1e-6):
    """Saves `model` as .keras, reloads it with safe_mode=True, compares outputs."""
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert_same_outputs(model.predict(x, verbose=0), reloaded.predict(x, verbose=0), atol)
    return reloaded


def run_encoder_test(encoder, x, expected_dim, tmp_path):
    """An encoder alone: output shape, config round trip, .keras round trip, tf.data."""
    y = encoder(x)
    assert tuple(y.shape) == (_batch(x), expected_dim)
    assert encoder.output_dim == expected_dim
    run_serialization_test(encoder)
    run_model_saving_test(encoder, x, tmp_path)
    return y


def run_tf_data_test(layer, x, batch_size=2, atol=1e-5):
    """A preprocessing layer gives the same result eagerly and inside tf.data (batched
    and unbatched)."""
    eager = np.asarray(layer(x))
    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).map(layer)
    batched = np.concatenate([b.numpy() for b in ds])
    np.testing.assert_allclose(batched, eager, atol=atol)
    ds1 = tf.data.Dataset.from_tensor_slices(x).map(lambda v: layer(v[None])[0])
    unbatched = np.stack([b.numpy() for b in ds1])
    np.testing.assert_allclose(unbatched, eager, atol=atol)


def _batch(x):
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


def tiny_demo_dict(
    data_dir, modalities=("text", "image", "audio"), epochs=2, batch_size=4, inputs=None
):
    """The demo config (a dict) for the dataset in `data_dir`, with tiny encoders and no
    dropout, so two runs on the same data can be compared number for number.

    `inputs` maps an input name to keys merged into its config."""
    from tfmm.data.demo import demo_config

    cfg = demo_config(str(data_dir), modalities=modalities, epochs=epochs, batch_size=batch_size)
    cfg["inputs"] = [dict(i) for i in cfg["inputs"]]
    for i in cfg["inputs"]:
        if i["type"] == "audio":
            i["encoder"] = {"type": "lstm", "num_mel_bins": 8, "units": [4]}
            i["clip_seconds"] = 0.5
        if i["type"] == "text":
            i["encoder"] = dict(i["encoder"], embedding_dim=4, filters=4, dropout=0.0)
        i.update((inputs or {}).get(i["name"], {}))
    cfg["fusion"] = {
        "type": "concat",
        "hidden_units": [8],
        "dropout": 0.0,
        "normalize": True,
        "modality_dropout": 0.0,
    }
    return cfg


def write_tiny_train_config(
    root,
    data_dir,
    modalities=("text", "audio"),
    epochs=2,
    batch_size=4,
    training=None,
    data=None,
    inputs=None,
):
    """Writes `root/config.yaml` (`tiny_demo_dict`, with `training` and `data` keys
    merged in) and returns its path."""
    import yaml

    cfg = tiny_demo_dict(data_dir, modalities, epochs, batch_size, inputs)
    cfg["training"].update(training or {})
    cfg["data"].update(data or {})
    path = os.path.join(str(root), "config.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


SPLIT_CPU = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def train_text_audio_run(root, audio_encoder, *cli_args):
    """A finished `tfmm train` run (CLI) of a tiny text + audio model on 24 demo rows, 2
    epochs: `root/data/` (the manifests), `root/config.yaml`, `root/run/`."""
    from tfmm.cli import main
    from tfmm.data.demo import demo_config

    tfmm.data.make_demo_dataset(str(root / "data"), n=24, seed=0)
    cfg = demo_config(str(root / "data"), modalities=("text", "audio"), epochs=2, batch_size=4)
    for i in cfg["inputs"]:
        if i["type"] == "audio":
            i["clip_seconds"] = 0.5
            i["encoder"] = audio_encoder
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = root / "run"
    assert main(["train", str(root / "config.yaml"), "--out", str(run), *cli_args]) == 0
    return run


def run_on_two_logical_cpus(body, args, tmp_path, timeout=300):
    """Runs the Python `body` in a fresh process whose CPU is split into two logical
    devices first (it must happen before TensorFlow initialises), with `args` as
    sys.argv[1:]. The body prints one line `RESULT <json>`. Returns (result, stdout)."""
    import json
    import subprocess
    import sys

    script = os.path.join(str(tmp_path), "two_cpus.py")
    with open(script, "w") as f:
        f.write(SPLIT_CPU + body)
    proc = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :]), proc.stdout


def run_tfmm(args, env=None, timeout=300):
    """Runs the `tfmm` command line in a subprocess: (returncode, combined output)."""
    import subprocess
    import sys

    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", "tfmm.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr


def pcm_wav(width, frames=50):
    """WAV bytes of `frames` samples at a quarter of full scale, `width` bytes each."""
    import io
    import wave

    value = {
        1: bytes([128 + 32]),
        2: (8192).to_bytes(2, "little", signed=True),
        3: (2**21).to_bytes(3, "little", signed=True),
    }[width]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(16000)
        w.writeframes(value * frames)
    return buf.getvalue()


def write_table(path, n=60, seed=0, hostile=False):
    """A small real CSV table: text `note`, numbers `size` (the label's signal) and
    `votes` (heavy-tailed, some cells empty), categories `color` (part of the signal) and
    `shop` (high cardinality), label `good` (yes/no). With `hostile`, a few rows get an
    empty number, an empty category and categories never seen in training."""
    import csv

    rng = np.random.default_rng(seed)
    colors = ["red", "green", "blue"]
    rows = [["note", "size", "votes", "color", "shop", "good"]]
    for r in range(n):
        size = float(rng.uniform(0, 10))
        color = colors[r % 3]
        good = (size > 5) != (color == "blue")
        note = ("lovely fit " if good else "poor seams ") + ["soft", "thin", "warm"][r % 3]
        votes = "" if r % 7 == 3 else str(int(rng.pareto(1.0) * 100))
        rows.append([note, f"{size:.3f}", votes, color, f"shop{r % 20}", "yes" if good else "no"])
    if hostile:
        rows[1][1] = ""  # an empty number
        rows[2][3] = ""  # an empty category
        rows[3][3] = "purple"  # a category unseen in training
        rows[4][4] = "shop999"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return str(path)


def table_config_dict(data_dir, epochs=2, text_encoder=None):
    """A text + tabular config over `write_table`'s train/val/test CSVs in `data_dir`."""
    text = {"name": "note", "type": "text"}
    text["encoder"] = text_encoder or {"type": "tfidf", "units": 8, "dropout": 0.0}
    return {
        "name": "table",
        "inputs": [
            text,
            {
                "name": "facts",
                "type": "tabular",
                "numeric": ["size", "votes"],
                "categorical": ["color", "shop"],
                "numeric_bins": 4,
                "encoder": {"type": "mlp", "dim": 4, "hidden_units": [8], "dropout": 0.0},
            },
        ],
        "fusion": TINY_FUSION,
        "outputs": [{"name": "good", "type": "binary"}],
        "data": {
            "train": os.path.join(str(data_dir), "train.csv"),
            "val": os.path.join(str(data_dir), "val.csv"),
            "test": os.path.join(str(data_dir), "test.csv"),
            "batch_size": 8,
        },
        "training": {"epochs": epochs},
    }
