"""A text + tabular run from the command line: train, evaluate, predict, export to
SavedModel, ONNX and TFLite, and the TensorFlow-free clients, on test rows with an empty
number, an empty category and categories unseen in training: every runtime gives the
Keras model's probabilities."""

import csv
import math

import keras
import numpy as np
import pytest
import yaml

from tfmm.cli import main
from tests.helpers import table_config_dict, write_table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("table_run")
    write_table(root / "train.csv", n=60, seed=0)
    write_table(root / "val.csv", n=24, seed=1)
    write_table(root / "test.csv", n=24, seed=2, hostile=True)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(table_config_dict(root, epochs=2)))
    run = root / "run"
    assert main(["train", str(config), "--out", str(run)]) == 0
    assert main(["export", str(run), "--out", str(root / "exports"), "--format", "all"]) == 0
    assert main(["export", str(run), "--out", str(root / "exports"), "--format", "tflite"]) == 0
    return root


def _probabilities(path):
    return np.array([float(r["good_p_yes"]) for r in csv.DictReader(open(path))])


def test_every_runtime_agrees_with_keras_on_hostile_rows(table_run):
    root = table_run
    test = str(root / "test.csv")
    assert (
        main(["predict", str(root / "run"), "--manifest", test, "--out", str(root / "keras.csv")])
        == 0
    )
    want = _probabilities(root / "keras.csv")
    assert len(want) == 24 and np.isfinite(want).all()
    for name, path in (
        ("savedmodel", root / "exports" / "1"),
        ("onnx", root / "exports" / "1" / "model.onnx"),
    ):
        assert (
            main(["predict", str(path), "--manifest", test, "--out", str(root / f"{name}.csv")])
            == 0
        )
        np.testing.assert_allclose(
            _probabilities(root / f"{name}.csv"), want, atol=1e-5, err_msg=name
        )
    from tfmm.client import OnnxClient, TFLiteClient

    rows = list(csv.DictReader(open(test)))
    raw = {
        "note": [r["note"] for r in rows],
        "facts_numeric": [[r["size"] or None, r["votes"] or math.nan] for r in rows],
        "facts_categorical": [[r["color"], r["shop"]] for r in rows],
    }
    for client, atol in (
        (OnnxClient(str(root / "exports" / "1" / "model.onnx")), 1e-5),
        (TFLiteClient(str(root / "exports" / "2" / "model.tflite")), 1e-5),
    ):
        got = client.predict(raw)["good_probability"]
        np.testing.assert_allclose(got, want, atol=atol, err_msg=type(client).__name__)


def test_the_saved_model_keeps_the_fitted_state(table_run):
    import tfmm  # noqa: F401 (registers the classes)

    model = keras.saving.load_model(str(table_run / "run" / "model.keras"), safe_mode=True)
    layer = model.get_layer("facts_encoder")
    assert sorted(layer.vocabulary["categorical"]["color"]) == ["blue", "green", "red"]
    assert len(layer.vocabulary["numeric"]["size"]["edges"]) == 5  # numeric_bins 4


def test_a_request_without_a_tabular_column_is_named(table_run):
    from tfmm.client import ClientError, OnnxClient

    client = OnnxClient(str(table_run / "exports" / "1" / "model.onnx"))
    with pytest.raises(ClientError, match="missing input 'facts_categorical'"):
        client.predict({"note": ["a"], "facts_numeric": [[1.0, 2.0]]})
    with pytest.raises(ClientError, match=r"column 'votes': not a number: 'many'"):
        client.predict(
            {
                "note": ["a"],
                "facts_numeric": [[1.0, "many"]],
                "facts_categorical": [["red", "shop1"]],
            }
        )
    import tensorflow as tf

    serve = tf.saved_model.load(str(table_run / "exports" / "1")).signatures["serving_default"]
    with pytest.raises(TypeError, match="facts_categorical"):
        serve(note=tf.constant(["a"]), facts_numeric=tf.constant([[1.0, 2.0]]))


def test_evaluate_missing_removes_the_table(table_run, capsys):
    assert (
        main(
            [
                "evaluate",
                str(table_run / "run"),
                "--manifest",
                str(table_run / "val.csv"),
                "--missing",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "facts" in out and "note" in out
