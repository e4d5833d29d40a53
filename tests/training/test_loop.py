"""Training, the run directory and the CLI verbs, on tiny configs."""

import csv
import json
import os

import numpy as np
import pytest
import yaml

import tfmm
from tfmm.cli import main
from tests.helpers import train_text_audio_run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    run = train_text_audio_run(
        root, {"type": "lstm", "num_mel_bins": 8, "units": [4]}, "--set", "training.epochs=2"
    )
    return root, run


def test_run_directory_has_everything(tiny_run):
    root, run = tiny_run
    for name in (
        "config.yaml",
        "vocabularies.json",
        "model.keras",
        "best.keras",
        "history.csv",
        "metrics.json",
        "learning_curves.png",
        "confusion_matrix.png",
    ):
        assert (run / name).exists(), name
    assert os.listdir(run / "logs")
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    metrics = json.loads((run / "metrics.json").read_text())["label"]
    assert len(metrics["per_class"]) == 8
    # The reported test accuracy is the saved model's, recomputed from its predictions on
    # the test manifest (not just any number in [0, 1]).
    from tfmm.training import load_run

    model, config, vocabularies = load_run(str(run))
    test_csv = root / "data" / "test.csv"
    probs = model.predict(
        tfmm.data.make_dataset(config, str(test_csv), vocabularies, with_labels=False), verbose=0
    )["label"]
    with open(test_csv, newline="") as f:
        truth = [r["label"] for r in csv.DictReader(f)]
    predicted = [config.outputs[0].labels[k] for k in probs.argmax(-1)]
    assert metrics["accuracy"] == pytest.approx(
        np.mean([p == t for p, t in zip(predicted, truth)]), abs=1e-9
    )
    recall = {c: v["recall"] for c, v in metrics["per_class"].items()}
    for c, r in recall.items():
        rows = [p == t for p, t in zip(predicted, truth) if t == c]
        if rows:
            assert r == pytest.approx(np.mean(rows), abs=1e-9), c
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert len(saved["outputs"][0]["labels"]) == 8


def test_evaluate_and_predict_cli(tiny_run, tmp_path, capsys):
    root, run = tiny_run
    test_csv = str(root / "data" / "test.csv")
    assert main(["evaluate", str(run), "--manifest", test_csv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "metrics.json").read_text())
    assert report["label"]["accuracy"] == pytest.approx(saved["label"]["accuracy"])
    out = tmp_path / "preds.csv"
    assert main(["predict", str(run), "--manifest", test_csv, "--out", str(out)]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    labels = yaml.safe_load((run / "config.yaml").read_text())["outputs"][0]["labels"]
    assert len(rows) == len(tfmm.data.Manifest(test_csv))
    for r in rows:
        assert r["label"] in labels
        probs = [float(r[f"label_p_{lab}"]) for lab in labels]
        assert abs(sum(probs) - 1) < 1e-4 and r["label"] == labels[int(np.argmax(probs))]


def test_bad_set_key_is_refused_by_name(tiny_run, capsys):
    root, _ = tiny_run
    assert main(["train", str(root / "config.yaml"), "--set", "training.epoks=1"]) == 2
    assert "training.epoks: unknown key. Did you mean 'epochs'" in capsys.readouterr().err


def test_nan_loss_stops_with_a_clear_message(tiny_run, tmp_path):
    root, _ = tiny_run
    config = tfmm.load_config(
        str(root / "config.yaml"), overrides=["training.learning_rate=1e30", "training.epochs=3"]
    )
    with pytest.raises(tfmm.training.TrainingError, match=r"loss became (nan|inf) at epoch 1"):
        tfmm.training.train(config, str(tmp_path / "nan"), verbose=0, log=lambda *a: None)


def test_metrics_against_hand_computed_values():
    from tfmm.metrics import auroc, classification_report

    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    report = classification_report([0, 1, 1, 0], probs, ["a", "b"])
    assert report["accuracy"] == 0.5
    assert report["confusion"] == [[1, 1], [1, 1]]
    assert auroc([0, 1, 1, 0], probs[:, 1]) == pytest.approx(0.5)
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auroc([1, 1], [0.1, 0.2]) is None


def test_skipped_rows_are_reported_once_and_never_read(tiny_run, tmp_path, capsys):
    # Each manifest is checked once: the datasets read the rows its check kept, and the
    # skip summary goes through the run's log, not twice (once to stdout).
    import shutil

    root, _ = tiny_run
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    rows = list(csv.reader(open(data / "train.csv", newline="")))
    col = rows[0].index("audio_path")
    rows[2][col] = "audio/missing.wav"
    with open(data / "train.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    config = tfmm.load_config(
        str(root / "config.yaml"),
        overrides=[
            f"data.train={data / 'train.csv'}",
            "data.on_bad_example=skip",
            "training.epochs=1",
        ],
    )
    logs = []
    tfmm.training.train(config, str(tmp_path / "run"), verbose=0, log=logs.append)
    skipped = [line for line in logs if line.startswith("tfmm: skipped")]
    assert skipped == [
        f"tfmm: skipped 1 of {len(rows) - 1} rows of "
        f"{str(data / 'train.csv')!r} with bad input; reasons in "
        f"{tmp_path / 'run' / 'bad_examples_train.csv'}"
    ]
    assert "skipped" not in capsys.readouterr().out
