"""Class imbalance: `class_weight` (balanced or a map) weighs each example's loss by its
label; `threshold: auto` is chosen on the validation split and used everywhere."""

import csv

import keras
import numpy as np
import pytest
import yaml

import tfmm
from tfmm.cli import main
from tfmm.losses import ClassWeightedLoss
from tests.helpers import table_config_dict, write_table


def _macro_f1(t, d):
    f1 = []
    for k in (0, 1):
        tp = np.sum((d == k) & (t == k))
        f1.append(
            0.0
            if tp == 0
            else 2 * tp / (2 * tp + np.sum((d == k) & (t != k)) + np.sum((d != k) & (t == k)))
        )
    return np.mean(f1)


def test_class_weighted_loss_by_hand():
    y = np.array([0, 2, 1])
    p = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1]], "float32")
    loss = ClassWeightedLoss(keras.losses.SparseCategoricalCrossentropy(), [2.0, 1.0, 3.0])
    want = (2.0 * -np.log(0.5) + 3.0 * -np.log(0.6) + 1.0 * -np.log(0.8)) / 3
    assert float(loss(y, p)) == pytest.approx(want, rel=1e-5)
    revived = ClassWeightedLoss.from_config(loss.get_config())
    assert float(revived(y, p)) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize(
    "output,message",
    [
        (
            {"name": "y", "type": "regression", "class_weight": "balanced"},
            "class_weight: applies to multiclass and binary",
        ),
        ({"name": "y", "type": "multiclass", "threshold": "auto"}, "threshold: applies to binary"),
        ({"name": "y", "type": "binary", "threshold": 1.5}, r"threshold: must be in \(0, 1\)"),
        (
            {"name": "y", "type": "binary", "labels": ["a", "b"], "class_weight": {"c": 1.0}},
            r"unknown labels \['c'\]",
        ),
    ],
)
def test_imbalance_config_errors(output, message):
    with pytest.raises(tfmm.ConfigError, match=message):
        tfmm.config_from_dict({"inputs": [{"name": "t", "type": "text"}], "outputs": [output]})


@pytest.mark.slow
def test_balanced_weights_and_auto_threshold_end_to_end(tmp_path):
    for split, n, seed in (("train", 60, 0), ("val", 30, 1), ("test", 24, 2)):
        write_table(tmp_path / f"{split}.csv", n=n, seed=seed)
    cfg = table_config_dict(tmp_path, epochs=2)
    cfg["outputs"][0].update(class_weight="balanced", threshold="auto")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "config.yaml"), "--out", str(run)]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())["outputs"][0]
    labels = [r["good"] for r in csv.DictReader(open(tmp_path / "train.csv"))]
    n_no, n_yes = labels.count("no"), labels.count("yes")
    assert saved["class_weight"] == pytest.approx({"no": 60 / (2 * n_no), "yes": 60 / (2 * n_yes)})
    threshold = saved["threshold"]
    assert isinstance(threshold, float) and 0 < threshold < 1
    # The threshold has the best macro-F1 on the validation rows.
    assert (
        main(
            [
                "predict",
                str(run),
                "--manifest",
                str(tmp_path / "val.csv"),
                "--out",
                str(tmp_path / "val_pred.csv"),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(tmp_path / "val_pred.csv")))
    p = np.array([float(r["good_p_yes"]) for r in rows])
    t = np.array([r["good"] == "yes" for r in csv.DictReader(open(tmp_path / "val.csv"))], int)
    # Every way a threshold can split these rows: "p > v" for each distinct v, and all.
    best = max(_macro_f1(t, (p > c).astype(int)) for c in [-1.0, *np.unique(p)])
    assert _macro_f1(t, (p > threshold).astype(int)) == pytest.approx(best)
    # predict labels with it, and the saved model's head keeps it.
    assert [r["good"] for r in rows] == ["yes" if v > threshold else "no" for v in p]
    model = keras.saving.load_model(str(run / "model.keras"), safe_mode=True)
    assert model.get_layer("head_good").threshold == pytest.approx(threshold)
    # The exported client's labels use it too.
    assert main(["export", str(run), "--out", str(tmp_path / "exp"), "--format", "onnx"]) == 0
    from tfmm.client import OnnxClient

    test_rows = list(csv.DictReader(open(tmp_path / "test.csv")))
    out = OnnxClient(str(tmp_path / "exp" / "1" / "model.onnx")).predict(
        {
            "note": [r["note"] for r in test_rows],
            "facts_numeric": [[r["size"], r["votes"]] for r in test_rows],
            "facts_categorical": [[r["color"], r["shop"]] for r in test_rows],
        }
    )
    assert out["good_label"] == ["yes" if v > threshold else "no" for v in out["good_probability"]]
