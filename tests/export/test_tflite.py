"""TFLite exports checked in the TFLite interpreter, and the TFLite client on real files."""

import os

import numpy as np
import pytest

import tfmm
from tfmm.cli import main
from tfmm.export import export_model
from tests.helpers import write_tiny_train_config

CNN = {
    "image": {"encoder": {"type": "cnn", "filters": [4, 8]}},
    "audio": {"encoder": {"type": "cnn", "filters": [4, 8], "num_mel_bins": 8}},
}


@pytest.fixture(scope="module")
def tflite_run(train_data, tmp_path_factory):
    """A trained tri-modal run (textcnn + cnn + cnn) and its TFLite export."""
    root = tmp_path_factory.mktemp("tflite")
    config = write_tiny_train_config(
        root, train_data, modalities=("text", "image", "audio"), epochs=2, inputs=CNN
    )
    run_dir = root / "run"
    assert main(["train", config, "--out", str(run_dir)]) == 0
    base = root / "savedmodels" / "tri"
    assert main(["export", str(run_dir), "--out", str(base), "--format", "tflite"]) == 0
    return run_dir, base / "1"


def _keras_probs(run_dir, manifest):
    model, config, vocabs = tfmm.training.load_run(str(run_dir))
    ds = tfmm.data.make_dataset(config, manifest, vocabs, with_labels=False)
    return model.predict(ds, verbose=0)["label"], config.outputs[0].labels


def _raw(manifest, client):
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    from onnx_inference import read_manifest

    return read_manifest(str(manifest), client)


@pytest.mark.parametrize("name, atol", [("model.tflite", 1e-4), ("model.fp16.tflite", 2e-2)])
def test_tflite_client_gives_the_keras_labels_on_the_test_split(tflite_run, train_data, name, atol):
    from tfmm.client import TFLiteClient

    run_dir, version = tflite_run
    manifest = train_data / "test.csv"
    want, labels = _keras_probs(run_dir, str(manifest))
    client = TFLiteClient(str(version / name))
    got = client.predict(_raw(manifest, client))
    assert len(got["label_label"]) == len(want) >= 3
    np.testing.assert_allclose(got["label_probabilities"], want, atol=atol)
    agree = np.mean([a == labels[k] for a, k in zip(got["label_label"], want.argmax(-1))])
    assert agree >= 0.99


def test_tflite_export_writes_the_client_spec_and_no_other_format(tflite_run):
    import json

    _, version = tflite_run
    assert sorted(p for p in os.listdir(version) if not p.startswith("tfmm")) == [
        "model.fp16.tflite",
        "model.tflite",
    ]
    with open(version / "tfmm" / "client.json") as f:
        spec = json.load(f)
    assert [i["name"] for i in spec["inputs"]] == ["text", "image", "audio"]
    # The client decodes JPEGs as training did.
    assert spec["inputs"][1]["jpeg_scale"] == "auto"
    assert (
        spec["outputs"][0]["labels"]
        == tfmm.training.load_run(str(tflite_run[0]))[1].outputs[0].labels
    )


def test_tflite_client_without_its_spec_says_what_to_do(tflite_run, tmp_path):
    import shutil

    from tfmm.client import ClientError, TFLiteClient

    shutil.copy(tflite_run[1] / "model.tflite", tmp_path / "model.tflite")
    with pytest.raises(
        ClientError,
        match=r"client\.json' is missing: export the model "
        r"again .*--format tflite",
    ):
        TFLiteClient(str(tmp_path))


def test_tflite_inference_example(tflite_run, train_data, capsys):
    import importlib.util

    _, version = tflite_run
    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "tflite_inference.py")
    spec = importlib.util.spec_from_file_location("tflite_inference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(version), str(train_data / "test.csv"), "--fp16"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("row ")]
    assert len(lines) == len(tfmm.data.Manifest(str(train_data / "test.csv")))
    assert all(" = " in x and "(p=" in x for x in lines)


def test_tflite_export_matches_keras_in_the_interpreter(tmp_path):
    # CNN image and audio encoders (log-mel front end included) and textcnn, float32 and
    # float16 files, checked in the TFLite interpreter at two batch sizes.
    from tests.helpers import random_inputs
    from tfmm.export.tflite import tflite_predict, tflite_runner

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
                },
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
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )
    vocab = {"text": ["", "[UNK]", "w", "v"]}
    model = tfmm.build_model(config, vocab)
    paths = export_model(
        model, config, vocab, str(tmp_path / "out"), formats=("tflite",), log=lambda *a: None
    )
    assert os.path.getsize(paths["tflite_fp16"]) < 0.8 * os.path.getsize(paths["tflite"])
    for key, atol in (("tflite", 1e-5), ("tflite_fp16", 2e-2)):
        runner = tflite_runner(paths[key])
        for batch in (1, 4):
            x = random_inputs(model, batch=batch, seed=batch)
            want = model(x, training=False)["label"].numpy()
            got = tflite_predict(runner, {k: np.asarray(v) for k, v in x.items()})["label"]
            np.testing.assert_allclose(got, want, atol=atol)


def test_tflite_refuses_an_lstm_encoder_by_name(tmp_path):
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "speech",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": {"type": "lstm", "units": [4], "num_mel_bins": 8},
                }
            ],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    model = tfmm.build_model(config)
    with pytest.raises(
        ValueError,
        match=r"tflite: input 'speech' uses the lstm encoder: "
        r".*use encoder type cnn",
    ):
        export_model(
            model, config, {}, str(tmp_path / "out"), formats=("tflite",), log=lambda *a: None
        )
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")
