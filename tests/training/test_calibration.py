"""Calibration: temperature scaling fitted on the validation split, stored in the head,
applied by predict and every export; ECE and Brier before and after in metrics.json."""

import csv
import json

import keras
import numpy as np
import pytest
import yaml

import tfmm
from tfmm.calibration import expected_calibration_error, fit_temperature
from tfmm.cli import main
from tfmm.layers.heads import Head
from tests.helpers import table_config_dict, write_table


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ece_by_hand(confidence, correct, bins=15):
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [
            (c, k) for c, k in zip(confidence, correct) if (lo < c <= hi) or (b == 0 and c == 0)
        ]
        if inside:
            conf = sum(c for c, _ in inside) / len(inside)
            acc = sum(k for _, k in inside) / len(inside)
            total += len(inside) / len(confidence) * abs(acc - conf)
    return total


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(true_t):
    # Labels drawn from softmax(z / T): the head that outputs softmax(z) is mis-calibrated
    # by exactly T, and the fit must find it (20,000 rows: within a few percent).
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2.0, (20000, 4))
    labels = np.array([rng.choice(4, p=p) for p in _softmax(z / true_t)])
    assert fit_temperature(_softmax(z), labels, "multiclass") == pytest.approx(true_t, rel=0.05)
    # Binary: one sigmoid.
    s = rng.normal(0, 3.0, 20000)
    y = (rng.uniform(size=20000) < 1 / (1 + np.exp(-s / true_t))).astype(int)
    p = (1 / (1 + np.exp(-s)))[:, None]
    assert fit_temperature(p, y, "binary") == pytest.approx(true_t, rel=0.05)


def test_a_perfectly_separated_split_keeps_the_head_as_trained():
    # Every validation row right: the NLL falls as T -> 0 without end; no T to fit.
    p = _softmax(np.array([[3.0, 0.0], [0.0, 2.0], [4.0, 1.0]]))
    assert fit_temperature(p, np.array([0, 1, 0]), "multiclass") == 1.0


def test_ece_matches_the_definition_worked_by_hand():
    rng = np.random.default_rng(1)
    p = _softmax(rng.normal(0, 1.5, (500, 3)))
    y = rng.integers(0, 3, 500)
    want = _ece_by_hand(p.max(-1), (p.argmax(-1) == y).astype(float))
    assert expected_calibration_error(p, y, "multiclass") == pytest.approx(want, abs=1e-12)


def test_the_head_divides_its_logits_and_keeps_its_labels():
    x = np.random.default_rng(2).normal(size=(6, 5)).astype("float32")
    plain = Head("multiclass", 3)
    cooled = Head("multiclass", 3, temperature=2.0)
    plain(x), cooled(x)
    cooled.dense.set_weights(plain.dense.get_weights())
    w, b = plain.dense.get_weights()
    np.testing.assert_allclose(np.asarray(plain(x)), _softmax(x @ w + b), atol=1e-6)
    np.testing.assert_allclose(np.asarray(cooled(x)), _softmax((x @ w + b) / 2.0), atol=1e-6)
    assert (np.asarray(cooled(x)).argmax(-1) == np.asarray(plain(x)).argmax(-1)).all()
    assert Head.from_config(cooled.get_config()).temperature == 2.0
    with pytest.raises(ValueError, match="temperature must be > 0. Received: temperature=0"):
        Head("binary", 1, temperature=0)


@pytest.mark.parametrize(
    "output,message",
    [
        (
            {"name": "y", "type": "regression", "calibration": "temperature"},
            "calibration: applies to multiclass, binary and multilabel",
        ),
        (
            {"name": "y", "type": "binary", "temperature": -1.0},
            r"temperature: must be > 0. Received: temperature=-1.0",
        ),
    ],
)
def test_calibration_config_errors(output, message):
    with pytest.raises(tfmm.ConfigError, match=message):
        tfmm.config_from_dict({"inputs": [{"name": "t", "type": "text"}], "outputs": [output]})


def _flip(path, rows):
    """Flips the label of some rows: a validation split the model cannot get all right
    (on one it does, no temperature can be fitted)."""
    lines = list(csv.reader(open(path)))
    for r in rows:
        lines[r][-1] = "no" if lines[r][-1] == "yes" else "yes"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(lines)


def _rows(path):
    rows = list(csv.DictReader(open(path)))
    features = {
        "note": [r["note"] for r in rows],
        "facts_numeric": [[r["size"], r["votes"]] for r in rows],
        "facts_categorical": [[r["color"], r["shop"]] for r in rows],
    }
    return features, np.array([r["good"] == "yes" for r in rows], int)


@pytest.mark.slow
def test_temperature_end_to_end_in_every_runtime(tmp_path):
    for split, n, seed in (("train", 60, 0), ("val", 40, 1), ("test", 24, 2)):
        write_table(tmp_path / f"{split}.csv", n=n, seed=seed)
    _flip(tmp_path / "val.csv", [1, 5, 9, 13])
    cfg = table_config_dict(tmp_path, epochs=6)
    cfg["outputs"][0].update(calibration="temperature", threshold="auto")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "config.yaml"), "--out", str(run)]) == 0
    temperature = yaml.safe_load((run / "config.yaml").read_text())["outputs"][0]["temperature"]
    assert isinstance(temperature, float) and temperature > 0 and temperature != 1.0

    model, config, vocabularies = tfmm.training.inference.load_run(str(run))
    assert model.get_layer("head_good").temperature == pytest.approx(temperature)
    from tfmm.training.inference import predict_arrays

    def probs(path):
        return predict_arrays(model, config, str(path), vocabularies, with_labels=False)[0]["good"]

    calibrated_val = probs(tmp_path / "val.csv")[:, 0]
    model.get_layer("head_good").temperature = 1.0
    model.predict_function = None
    raw_val, raw_test = probs(tmp_path / "val.csv")[:, 0], probs(tmp_path / "test.csv")[:, 0]
    # The temperature has the lowest validation NLL (a fine grid, worked here).
    _, y_val = _rows(tmp_path / "val.csv")
    logit = np.log(raw_val) - np.log1p(-raw_val)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 4001))
    q = np.clip(1 / (1 + np.exp(-logit[None] / grid[:, None])), 1e-12, 1 - 1e-12)
    nll = -(y_val * np.log(q) + (1 - y_val) * np.log1p(-q)).mean(-1)
    assert temperature == pytest.approx(grid[nll.argmin()], rel=0.01)
    # The served probabilities are the raw ones cooled by it; the labels at 0.5 are the same.
    np.testing.assert_allclose(
        calibrated_val, 1 / (1 + np.exp(-logit / temperature)), rtol=1e-4, atol=1e-6
    )
    assert ((calibrated_val > 0.5) == (raw_val > 0.5)).all()

    # metrics.json: ECE (15 bins) and Brier of the test split, before and after.
    report = json.loads((run / "metrics.json").read_text())["good"]["calibration"]
    _, y_test = _rows(tmp_path / "test.csv")
    test_logit = np.log(raw_test) - np.log1p(-raw_test)
    cal_test = 1 / (1 + np.exp(-test_logit / temperature))
    for key, p in (("after", cal_test), ("before", raw_test)):
        got = report if key == "after" else report["uncalibrated"]
        conf = np.where(p > 0.5, p, 1 - p)
        assert got["ece"] == pytest.approx(
            _ece_by_hand(conf, ((p > 0.5) == (y_test == 1)).astype(float)), abs=1e-4
        )
        assert got["brier"] == pytest.approx(np.mean((p - y_test) ** 2), abs=1e-5)
    assert report["temperature"] == pytest.approx(temperature)
    assert (run / "reliability.png").stat().st_size > 1000

    # The ONNX client (and so every export, each checked against Keras on export) serves
    # the calibrated probabilities.
    out_dir = tmp_path / "exp"
    assert main(["export", str(run), "--out", str(out_dir), "--format", "onnx"]) == 0
    from tfmm.client import OnnxClient

    features, _ = _rows(tmp_path / "test.csv")
    served = np.asarray(
        OnnxClient(str(out_dir / "1" / "model.onnx")).predict(features)["good_probability"]
    )
    np.testing.assert_allclose(served, cal_test, rtol=1e-4, atol=1e-5)
    keras.utils.clear_session()


@pytest.mark.slow
def test_auto_calibrates_with_a_validation_split_and_skips_without(tmp_path):
    for split, n, seed in (("train", 40, 0), ("val", 20, 1), ("test", 12, 2)):
        write_table(tmp_path / f"{split}.csv", n=n, seed=seed)
    _flip(tmp_path / "val.csv", [2, 7])
    saved = {}
    for name, with_val in (("with", True), ("without", False)):
        cfg = table_config_dict(tmp_path, epochs=2)  # calibration left at its default
        if not with_val:
            del cfg["data"]["val"]
        run = tmp_path / name
        tfmm.training.train(tfmm.config_from_dict(cfg), str(run), log=lambda *a: None, verbose=0)
        saved[name] = yaml.safe_load((run / "config.yaml").read_text())["outputs"][0]
        report = json.loads((run / "metrics.json").read_text())["good"]["calibration"]
        assert ("uncalibrated" in report) == with_val
    assert saved["with"]["calibration"] == "auto" and saved["with"]["temperature"] > 0
    assert saved["without"]["temperature"] is None
