"""Exports checked in the real runtimes: tf.saved_model.load, saved_model_cli, onnxruntime."""

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.cli import main
from tfmm.export import OnnxInputs, export_model, onnx_predict, onnx_session
from tfmm.export.runtime import read_raw
from tests.helpers import pcm_wav, write_tiny_train_config


@pytest.fixture(scope="module")
def run(train_data, tmp_path_factory):
    """A trained tri-modal run (textcnn + resnet50 + lstm) and its first export."""
    root = tmp_path_factory.mktemp("export")
    config = write_tiny_train_config(
        root, train_data, modalities=("text", "image", "audio"), epochs=1
    )
    run_dir = root / "run"
    assert main(["train", config, "--out", str(run_dir)]) == 0
    base = root / "savedmodels" / "tri"
    assert main(["export", str(run_dir), "--out", str(base)]) == 0
    return run_dir, base


def _keras_probs(run_dir, manifest, batch=None):
    model, config, vocabs = tfmm.training.load_run(str(run_dir))
    if batch:
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, batch_size=batch)
        )
    ds = tfmm.data.make_dataset(config, manifest, vocabs, with_labels=False)
    return model.predict(ds, verbose=0)["label"], config


def test_savedmodel_raw_signature_matches_keras_on_real_files(run, train_data):
    run_dir, base = run
    assert sorted(os.listdir(base)) == ["1"]  # staging folders never stay behind
    version = base / "1"
    manifest = str(train_data / "test.csv")
    expected, config = _keras_probs(run_dir, manifest)
    raw = read_raw(config, manifest)
    # Real JPEG/PNG and WAV bytes, text strings: everything else happens in the graph.
    assert raw["image"][0][:3] in (b"\xff\xd8\xff", b"\x89PN")
    assert raw["audio"][0][:4] == b"RIFF"
    loaded = tf.saved_model.load(str(version))
    out = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in raw.items()})
    np.testing.assert_allclose(out["label_probabilities"].numpy(), expected, atol=1e-5)
    labels = [x.decode() for x in out["label_label"].numpy()]
    assert labels == [config.outputs[0].labels[k] for k in expected.argmax(-1)]


def test_predict_tensors_signature_takes_the_model_tensors(run, train_data):
    run_dir, base = run
    model, config, vocabs = tfmm.training.load_run(str(run_dir))
    x = next(
        iter(
            tfmm.data.make_dataset(config, str(train_data / "test.csv"), vocabs, with_labels=False)
        )
    )
    loaded = tf.saved_model.load(str(base / "1"))
    out = loaded.signatures["predict_tensors"](**x)
    np.testing.assert_allclose(
        out["label_probabilities"].numpy(), model(x)["label"].numpy(), atol=1e-5
    )


def test_saved_model_cli_lists_both_signatures(run):
    _, base = run
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    proc = subprocess.run(
        [cli, "show", "--dir", str(base / "1"), "--all"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    raw = text[text.index("signature_def['serving_default']") :]
    tensors = text[
        text.index("signature_def['predict_tensors']") : text.index(
            "signature_def['serving_default']"
        )
    ]
    for name in ("text", "image", "audio"):
        assert f"inputs['{name}'] tensor_info:\n        dtype: DT_STRING" in raw
    assert (
        "inputs['image'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 32, 32, 3)"
        in tensors
    )
    assert "inputs['audio_length'] tensor_info:\n        dtype: DT_INT32" in tensors
    assert "inputs['text'] tensor_info:\n        dtype: DT_INT32" in tensors
    for sig in (raw, tensors):
        assert "outputs['label_probabilities'] tensor_info:\n        dtype: DT_FLOAT" in sig
        assert "outputs['label_label'] tensor_info:\n        dtype: DT_STRING" in sig


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_matches_keras_on_real_examples(run, train_data, batch):
    run_dir, base = run
    manifest = str(train_data / "test.csv")
    expected, config = _keras_probs(run_dir, manifest)
    _, _, vocabs = tfmm.training.load_run(str(run_dir))
    raw = read_raw(config, manifest)
    session = onnx_session(str(base / "1" / "model.onnx"))
    make = OnnxInputs(config, vocabs)
    got = np.concatenate(
        [
            onnx_predict(session, config, make({k: v[s : s + batch] for k, v in raw.items()}))[
                "label"
            ]
            for s in range(0, len(expected), batch)
        ]
    )
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(
    "field,message",
    [
        ("image", "input `image`: not a JPEG, PNG, BMP or GIF"),
        ("audio", "input `audio`: not a WAV file"),
    ],
)
def test_garbage_bytes_give_invalid_argument_naming_the_input(run, train_data, field, message):
    _, base = run
    model_config = tfmm.training.load_run(str(run[0]))[1]
    raw = read_raw(model_config, str(train_data / "test.csv"))
    raw = {k: v[:2] for k, v in raw.items()}
    raw[field] = [raw[field][0], b"\x00garbage, not a file at all"]
    loaded = tf.saved_model.load(str(base / "1"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in raw.items()})


def test_predict_gives_the_same_labels_from_run_savedmodel_and_onnx(run, train_data, tmp_path):
    run_dir, base = run
    manifest = str(train_data / "test.csv")
    results = {}
    for kind, path in (
        ("run", run_dir),
        ("savedmodel", base / "1"),
        ("onnx", base / "1" / "model.onnx"),
    ):
        out = tmp_path / f"{kind}.csv"
        assert main(["predict", str(path), "--manifest", manifest, "--out", str(out)]) == 0
        with open(out) as f:
            results[kind] = list(csv.DictReader(f))
    assert (
        [r["label"] for r in results["run"]]
        == [r["label"] for r in results["savedmodel"]]
        == [r["label"] for r in results["onnx"]]
    )
    p_run = np.array(
        [[float(v) for k, v in r.items() if k.startswith("label_p_")] for r in results["run"]]
    )
    p_onnx = np.array(
        [[float(v) for k, v in r.items() if k.startswith("label_p_")] for r in results["onnx"]]
    )
    np.testing.assert_allclose(p_onnx, p_run, atol=1e-4)


def test_a_new_export_takes_the_next_version_and_keeps_the_old(run, tmp_path):
    run_dir, base = run
    copy = tmp_path / "base"
    shutil.copytree(base, copy)
    before = (copy / "1" / "saved_model.pb").read_bytes()
    assert main(["export", str(run_dir), "--out", str(copy), "--format", "onnx"]) == 0
    assert sorted(os.listdir(copy)) == ["1", "2"]
    assert (copy / "1" / "saved_model.pb").read_bytes() == before
    assert (copy / "2" / "model.onnx").exists() and not (copy / "2" / "saved_model.pb").exists()
    assert (copy / "2" / "tfmm" / "labels.json").exists()


def test_lstm_that_asked_for_cudnn_still_exports(tmp_path):
    # A model built for cuDNN kernels (as on a GPU) is rebuilt with use_cudnn=False.
    from tests.helpers import TINY_LSTM, random_inputs

    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "audio",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": dict(TINY_LSTM, use_cudnn=True),
                }
            ],
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )
    model = tfmm.build_model(config)
    lstm = model.get_layer("audio_encoder").get_layer("lstm_0")
    assert lstm.use_cudnn is True
    paths = export_model(model, config, {}, str(tmp_path / "sm"), log=lambda *a: None)
    reference = tfmm.export.portable_copy(model, config, {})
    assert reference.get_layer("audio_encoder").get_layer("lstm_0").use_cudnn is False
    # The cuDNN model cannot run on a CPU: the expected outputs come from a model built
    # apart (use_cudnn off) holding the original's weights, so weights the rebuild lost
    # would show.
    plain_config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "audio",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": dict(TINY_LSTM, use_cudnn=False),
                }
            ],
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )
    plain = tfmm.build_model(plain_config)
    plain.set_weights(model.get_weights())
    for batch in (3, 5):
        x = random_inputs(model, batch=batch)
        got = onnx_predict(onnx_session(paths["onnx"]), config, x)["label"]
        np.testing.assert_allclose(got, plain(x)["label"].numpy(), atol=1e-5)


@pytest.mark.parametrize("fusion", ["concat", "single_stream", "cross_attention"])
def test_cnn_encoders_export_to_both_runtimes(tmp_path, fusion):
    # Image and audio CNNs (vectors, and grid cells / frames for a token-level fusion)
    # through the SavedModel raw signature's tensor twin and onnxruntime, two batch sizes.
    from tests.helpers import TINY_FUSIONS, random_inputs

    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "image",
                    "type": "image",
                    "image_size": 16,
                    "encoder": {"type": "cnn", "filters": [4, 8]},
                },
                {
                    "name": "audio",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": {"type": "cnn", "filters": [4, 8], "num_mel_bins": 8},
                },
            ],
            "fusion": TINY_FUSIONS[fusion],
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )
    model = tfmm.build_model(config)
    paths = export_model(model, config, {}, str(tmp_path / "sm"), log=lambda *a: None)
    session = onnx_session(paths["onnx"])
    loaded = tfmm.export.load_saved_model(paths["savedmodel"])
    for batch in (1, 4):
        x = random_inputs(model, batch=batch, seed=batch)
        want = model(x, training=False)["label"].numpy()
        np.testing.assert_allclose(onnx_predict(session, config, x)["label"], want, atol=1e-4)
        got = loaded.signatures["predict_tensors"](**{k: tf.constant(v) for k, v in x.items()})
        np.testing.assert_allclose(got["label_probabilities"].numpy(), want, atol=1e-5)


def test_unknown_format_is_refused_by_name(tmp_path):
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "encoder": {
                        "type": "textcnn",
                        "vocab_size": 20,
                        "sequence_length": 4,
                        "kernel_sizes": [2],
                    },
                }
            ],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    model = tfmm.build_model(config, {"text": ["", "[UNK]", "a"]})
    with pytest.raises(
        ValueError,
        match=r"export formats must be among \['savedmodel', "
        r"'onnx', 'tflite'\]. Received: \['coreml'\]",
    ):
        export_model(model, config, {}, str(tmp_path), formats=("coreml",))


VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "red",
    "blue",
    "square",
    "circle",
    "a",
    "loud",
    "quiet",
]


@pytest.mark.slow
def test_bert_model_exports_to_both_runtimes(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "encoder": {
                        "type": "bert",
                        "vocabulary": str(vocab),
                        "num_layers": 1,
                        "num_heads": 2,
                        "hidden_dim": 8,
                        "intermediate_dim": 16,
                        "max_sequence_length": 16,
                        "sequence_length": 8,
                    },
                }
            ],
            "outputs": [{"name": "label", "labels": ["neg", "pos", "mid"]}],
        }
    )
    vocabs = {"text": VOCAB}
    model = tfmm.build_model(config, vocabs)
    paths = export_model(model, config, vocabs, str(tmp_path / "sm"), log=lambda *a: None)
    texts = ["the red square", "a loud blue circle", "quiet", "zebra the red", "the"]
    make = OnnxInputs(config, vocabs)
    session = onnx_session(paths["onnx"])
    serve = tf.saved_model.load(paths["savedmodel"]).signatures["serving_default"]
    for batch in (1, 5):
        x = make({"text": texts[:batch]})
        assert sorted(x) == ["text_padding_mask", "text_segment_ids", "text_token_ids"]
        expected = model(x)["label"].numpy()
        got = onnx_predict(session, config, x)["label"]
        np.testing.assert_allclose(got, expected, atol=1e-4)
        raw = serve(text=tf.constant(texts[:batch]))["label_probabilities"].numpy()
        np.testing.assert_allclose(raw, expected, atol=1e-5)
    # The negative control of the core-op check: BERT's in-graph WordPiece tokenizer
    # needs tensorflow-text's ops, which a stock TF Serving build lacks.
    proc = subprocess.run(
        [sys.executable, "-m", "tfmm.export.ops", paths["savedmodel"]],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    missing = json.loads(proc.stdout.strip().splitlines()[-1])["not_in_core_tensorflow"]
    assert any("Wordpiece" in op for op in missing), missing


def test_textcnn_resnet_lstm_export_needs_only_core_tensorflow_ops(run):
    # A fresh process that never imports tensorflow_text: its op registry is what a stock
    # TF Serving build has. No py_function either.
    _, base = run
    proc = subprocess.run(
        [sys.executable, "-m", "tfmm.export.ops", str(base / "1")],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["not_in_core_tensorflow"] == [] and report["python_ops"] == []
    assert report["ops"] > 20


def _examples():
    return os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def test_serving_doc_request_body_runs_on_the_raw_signature(run, train_data):
    # The REST body in examples/serve_tf_serving.md, filled with real files and decoded as
    # TF Serving decodes it ({"b64": ...} -> bytes), runs on serving_default.
    import base64
    import re

    _, base = run
    doc = open(os.path.join(_examples(), "serve_tf_serving.md")).read()
    body = re.search(r"cat > request.json <<JSON\n(.*?)\nJSON", doc, re.S).group(1)
    with open(train_data / "test.csv") as f:
        row = next(csv.DictReader(f))
    for var, column in (("$IMG", "image_path"), ("$WAV", "audio_path")):
        data = (train_data / row[column]).read_bytes()
        body = body.replace(var, base64.b64encode(data).decode())
    request = json.loads(body)
    assert request["signature_name"] == "serving_default"
    inputs = {
        k: [base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode() for v in values]
        for k, values in request["inputs"].items()
    }
    loaded = tf.saved_model.load(str(base / "1"))
    out = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    assert out["label_probabilities"].shape[0] == 1
    assert (
        out["label_label"].numpy()[0].decode()
        in tfmm.training.load_run(str(run[0]))[1].outputs[0].labels
    )


def test_onnx_inference_example(run, train_data, capsys):
    import importlib.util

    _, base = run
    spec = importlib.util.spec_from_file_location(
        "onnx_inference", os.path.join(_examples(), "onnx_inference.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(base / "1"), str(train_data / "test.csv")]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("row ")]
    assert len(lines) == len(tfmm.data.Manifest(str(train_data / "test.csv")))


def test_every_head_type_is_served_by_value(tmp_path):
    # multiclass, binary, multilabel and regression heads: each served output (SavedModel
    # raw signature and onnxruntime) against the Keras model's own outputs and the labels
    # they imply. Heads get large random kernels so that thresholds are crossed both ways.
    import tensorflow as tf

    from tfmm.export import OnnxInputs

    outputs = [
        {"name": "kind", "type": "multiclass", "labels": ["a", "b", "c"]},
        {"name": "spam", "type": "binary", "labels": ["no", "yes"]},
        {"name": "tags", "type": "multilabel", "labels": ["x", "y", "z"]},
        {"name": "score", "type": "regression", "num_targets": 2},
    ]
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "text",
                    "type": "text",
                    "encoder": {
                        "type": "textcnn",
                        "vocab_size": 30,
                        "sequence_length": 6,
                        "embedding_dim": 4,
                        "kernel_sizes": [2],
                        "filters": 4,
                        "dropout": 0.0,
                    },
                }
            ],
            "fusion": {"type": "concat", "hidden_units": [8]},
            "outputs": outputs,
        }
    )
    vocab = ["", "[UNK]"] + [f"w{i}" for i in range(20)]
    model = tfmm.build_model(config, {"text": vocab})
    rng = np.random.default_rng(0)
    model.get_layer("text_encoder").set_weights(
        [
            rng.normal(0, 1, w.shape).astype("float32")
            for w in model.get_layer("text_encoder").get_weights()
        ]
    )
    for layer in model.layers:
        if layer.name.startswith("head_") or layer.name.startswith("fusion_dense"):
            # Zero-mean pre-activations: kernels random, biases zero.
            layer.set_weights(
                [
                    rng.normal(0, 1, w.shape).astype("float32") if w.ndim > 1 else np.zeros_like(w)
                    for w in layer.get_weights()
                ]
            )
    paths = export_model(model, config, {"text": vocab}, str(tmp_path / "out"), log=lambda *a: None)
    text = np.array([f"w{i} w{(i * 7) % 20} w{(i * 3) % 20}".encode() for i in range(12)])
    feed = OnnxInputs(config, {"text": vocab})({"text": text})
    want = {k: np.asarray(v) for k, v in model(feed).items()}
    serve = tf.saved_model.load(paths["savedmodel"]).signatures["serving_default"]
    got = {k: v.numpy() for k, v in serve(text=tf.constant(text)).items()}
    onnx = onnx_predict(onnx_session(paths["onnx"]), config, feed)
    for name in ("kind", "spam", "tags", "score"):
        np.testing.assert_allclose(onnx[name], want[name], atol=1e-5, err_msg=name)

    np.testing.assert_allclose(got["kind_probabilities"], want["kind"], atol=1e-5)
    assert [s.decode() for s in got["kind_label"]] == [
        ["a", "b", "c"][k] for k in want["kind"].argmax(-1)
    ]
    np.testing.assert_allclose(got["spam_probability"], want["spam"][:, 0], atol=1e-5)
    assert [s.decode() for s in got["spam_label"]] == [
        "yes" if p > 0.5 else "no" for p in want["spam"][:, 0]
    ]
    np.testing.assert_allclose(got["tags_probabilities"], want["tags"], atol=1e-5)
    expected_tags = ["|".join(t for t, p in zip("xyz", row) if p > 0.5) for row in want["tags"]]
    sep = config.outputs[2].label_separator
    assert [s.decode() for s in got["tags_labels"]] == [t.replace("|", sep) for t in expected_tags]
    np.testing.assert_allclose(got["score_values"], want["score"], atol=1e-5)
    # The examples cross each threshold both ways, so a flipped comparison would show.
    assert len(set(got["spam_label"])) == 2 and len(set(got["kind_label"])) > 1
    assert len(set(expected_tags)) > 1


_NO_TENSORFLOW = """
import importlib.abc, json, sys
class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "keras_hub", "tf2onnx", "tf_keras",
                                  "tensorflow_hub", "tensorflow_datasets", "yaml"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, _Refuse())
from tfmm.client import OnnxClient
raw = json.load(open(sys.argv[2]))
client = OnnxClient(sys.argv[1])
out = client.predict(raw)
assert "tensorflow" not in sys.modules
print(json.dumps({"labels": out["label_label"],
                  "probabilities": out["label_probabilities"].tolist()}))
"""


def test_onnx_client_without_tensorflow_gives_the_savedmodel_labels(run, train_data, tmp_path):
    """The numpy + Pillow client, in a process where importing TensorFlow fails, on the
    whole test split's real files (paths), against the SavedModel's raw signature."""
    _, base = run
    config = tfmm.training.load_run(str(run[0]))[1]
    manifest = tfmm.data.Manifest(str(train_data / "test.csv"))
    raw = {
        i.name: [str(train_data / v) if i.type != "text" else v for v in manifest.columns[i.column]]
        for i in config.inputs
    }
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    done = subprocess.run(
        [sys.executable, "-c", _NO_TENSORFLOW, str(base / "1"), str(tmp_path / "raw.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])

    served = tf.saved_model.load(str(base / "1")).signatures["serving_default"](
        **{k: tf.constant(v) for k, v in read_raw(config, str(train_data / "test.csv")).items()}
    )
    assert got["labels"] == [x.decode() for x in served["label_label"].numpy()]
    np.testing.assert_allclose(
        got["probabilities"], served["label_probabilities"].numpy(), atol=1e-4
    )


def test_onnx_file_describes_itself(run, train_data):
    import onnx

    from tfmm.client import METADATA_KEY

    _, base = run
    model = onnx.load(str(base / "1" / "model.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    config = tfmm.training.load_run(str(run[0]))[1]
    assert json.loads(meta["tfmm.labels"]) == {"label": config.outputs[0].labels}
    assert meta["tfmm.version"] == tfmm.__version__
    assert json.loads(meta["tfmm.config"])["inputs"][1]["image_size"] == config.inputs[1].image_size
    inputs = json.loads(meta["tfmm.inputs"])
    assert sorted(inputs) == sorted(i.name for i in model.graph.input)
    assert inputs["audio_length"] == "int32 [batch]: valid samples of the waveform"
    spec = json.loads(meta[METADATA_KEY])
    assert [i["name"] for i in spec["inputs"]] == ["text", "image", "audio"]
    assert spec["inputs"][0]["vocabulary"] == tfmm.training.load_run(str(run[0]))[2]["text"]
    for value in (*model.graph.input, *model.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch", value.name


def test_onnx_client_names_the_input_and_example_of_bad_bytes(run, train_data):
    from tfmm.client import ClientError, OnnxClient

    _, base = run
    client = OnnxClient(str(base / "1"))
    first = {
        kind: str(train_data / kind / sorted(os.listdir(train_data / kind))[0])
        for kind in ("images", "audio")
    }
    good = {
        "text": ["a calm day", "a loud day"],
        "image": [first["images"]] * 2,
        "audio": [first["audio"]] * 2,
    }
    assert len(client.predict(good)["label_label"]) == 2
    with pytest.raises(ClientError, match=r"input `audio`: not a WAV file .*\(example 2\)"):
        client.predict({**good, "audio": [good["audio"][0], b"garbage"]})
    with pytest.raises(ClientError, match=r"different batch sizes"):
        client.predict({**good, "text": ["one"]})
    with pytest.raises(ClientError, match=r"missing input 'image'"):
        client.predict({"text": good["text"], "audio": good["audio"]})


def test_serving_refuses_bad_requests_naming_the_input(run, train_data):
    """The training rules at serving time, each an InvalidArgument starting with the
    input's name (not a shape or substr error from deep in the graph)."""
    _, base = run
    config = tfmm.training.load_run(str(run[0]))[1]
    raw = {k: v[:2] for k, v in read_raw(config, str(train_data / "test.csv")).items()}
    serve = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    cases = [
        ({"audio": [raw["audio"][0], b""]}, "input `audio`: not a WAV file"),
        ({"audio": [raw["audio"][0], b"RIFF"]}, "input `audio`: not a WAV file"),
        ({"audio": [raw["audio"][0], pcm_wav(1)]}, "input `audio`: WAV samples are not 16-bit PCM"),
        (
            {"image": raw["image"][:1]},
            "input `image`: a different number of examples than input `text`",
        ),
        ({"text": [raw["text"][0], b"  "]}, "input `text`: empty text"),
        ({k: [] for k in raw}, "input `text`: empty batch"),
    ]
    for change, message in cases:
        request = {k: tf.constant(v, tf.string) for k, v in {**raw, **change}.items()}
        with pytest.raises(tf.errors.InvalidArgumentError) as err:
            serve(**request)
        assert message in str(err.value), (change.keys(), str(err.value)[:300])
    assert serve(**{k: tf.constant(v) for k, v in raw.items()})["label_label"].shape == (2,)


@pytest.mark.parametrize(
    "family,variant,fusion,formats",
    [
        ("mobilenet", "small", "single_stream", ("savedmodel", "onnx")),
        # ONNX only: EfficientNet's own rescaling and normalisation are what tf2onnx could get
        # wrong; the SavedModel path of a keras.applications backbone is MobileNet's case,
        # and checking EfficientNet's SavedModel as well cost half a minute.
        ("efficientnet", "b0", "concat", ("onnx",)),
    ],
)
def test_pretrainable_backbones_export_to_both_runtimes(tmp_path, family, variant, fusion, formats):
    # MobileNetV3 (hard-swish, squeeze-excite) and EfficientNetV2 (its own rescaling and
    # normalisation inside the model) through the SavedModel and onnxruntime, with random
    # weights and BatchNorm statistics (not the initial ones: fresh MobileNetV3 features
    # vanish in inference mode, and a training step costs a minute of tracing). MobileNet's
    # feature grid goes to a token-level fusion as tokens (the grid path every
    # keras.applications backbone shares, ResNet50's included).
    from tests.helpers import TINY_FUSIONS, TINY_INPUTS, random_inputs, randomize_weights

    config = tfmm.config_from_dict(
        {
            "inputs": [
                TINY_INPUTS["text"],
                {
                    "name": "image",
                    "type": "image",
                    "image_size": 32,
                    "encoder": {"type": family, "variant": variant},
                },
            ],
            "fusion": TINY_FUSIONS[fusion],
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )
    model = tfmm.build_model(config, {"text": ["", "[UNK]", "w"]})
    if fusion == "single_stream":
        assert tuple(model.get_layer("image_encoder").output["sequence"].shape) == (None, 1, 576)
    randomize_weights(model)
    paths = export_model(
        model,
        config,
        {"text": ["", "[UNK]", "w"]},
        str(tmp_path / "sm"),
        formats=formats,
        log=lambda *a: None,
    )
    x = random_inputs(model, batch=3, seed=5)
    want = model(x, training=False)["label"].numpy()
    session = onnx_session(paths["onnx"])
    np.testing.assert_allclose(onnx_predict(session, config, x)["label"], want, atol=1e-4)
    if "savedmodel" in formats:
        loaded = tfmm.export.load_saved_model(paths["savedmodel"])
        got = loaded.signatures["predict_tensors"](**{k: tf.constant(v) for k, v in x.items()})
        np.testing.assert_allclose(got["label_probabilities"].numpy(), want, atol=1e-5)
