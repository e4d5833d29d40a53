"""MLflow tracking (`tracking.mlflow`): a run's config, per-epoch metrics, test metrics and
files, read back through MLflow's own client from a real tracking store (SQLite on local
disk); a resumed run logs to its MLflow run; `tfmm tune` trials are runs too; without the
key nothing changes, and without MLflow the key fails in one line."""

import csv
import json
import os
import sys

import pytest
import yaml

import tfmm
from tests.helpers import tiny_demo_dict, write_tiny_train_config
from tfmm.tracking import Tracker

mlflow = pytest.importorskip("mlflow")


def _store(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts")


def _runs(uri, experiment):
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, experiment
    return client, client.search_runs([exp.experiment_id])


@pytest.mark.slow
def test_a_run_logs_its_config_epochs_test_metrics_and_files(train_data, tmp_path, capsys):
    from tfmm.cli import main

    uri, artifacts = _store(tmp_path)
    cfg = tiny_demo_dict(train_data, modalities=("text", "audio"), epochs=3)
    cfg["name"] = "tracked"
    cfg["tracking"] = {"artifact_location": artifacts}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["train", str(config_path), "--out", str(run), "--mlflow", uri]) == 0
    client, runs = _runs(uri, "tracked")
    assert len(runs) == 1
    r = runs[0]
    assert r.info.status == "FINISHED"
    assert r.data.tags["tfmm.run_dir"] == str(run)
    # The config as parameters, by key path.
    assert r.data.params["training.learning_rate"] == str(cfg["training"]["learning_rate"])
    assert r.data.params["training.epochs"] == "3"
    assert r.data.params["inputs.text.type"] == "text"
    # Each epoch's logs, step = epoch, as history.csv has them.
    with open(run / "history.csv") as f:
        history = list(csv.DictReader(f))
    logged = client.get_metric_history(r.info.run_id, "val_loss")
    assert [m.step for m in logged] == [1, 2, 3]
    assert [m.value for m in logged] == pytest.approx([float(h["val_loss"]) for h in history])
    # The test metrics and the kept epoch at the end.
    with open(run / "metrics.json") as f:
        metrics = json.load(f)
    assert r.data.metrics["test_label_accuracy"] == pytest.approx(metrics["label"]["accuracy"])
    with open(run / "best.json") as f:
        assert r.data.tags["tfmm.kept_epoch"] == str(json.load(f)["epoch"])
    # The run directory's files as artifacts, in the configured location.
    names = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"model.keras", "config.yaml", "history.csv", "metrics.json"} <= names
    assert os.path.isdir(artifacts) and any(
        "model.keras" in files for _, _, files in os.walk(artifacts)
    )
    # `tfmm export` adds its path to the same run.
    capsys.readouterr()
    assert (
        main(["export", str(run), "--format", "savedmodel", "--out", str(tmp_path / "served")]) == 0
    )
    r = client.get_run(r.info.run_id)
    assert r.data.tags["tfmm.export"] == str(tmp_path / "served")


@pytest.mark.slow
def test_tune_trials_are_mlflow_runs(train_data, tmp_path):
    pytest.importorskip("keras_tuner")
    from tfmm.tuning import tune

    uri, artifacts = _store(tmp_path)
    config_path = write_tiny_train_config(
        tmp_path, train_data, modalities=("text", "audio"), epochs=1
    )
    space = tmp_path / "space.yaml"
    space.write_text("training.learning_rate: {choice: [0.001, 0.01]}\n")
    out = tmp_path / "search"
    tune(
        config_path,
        str(space),
        str(out),
        max_trials=2,
        overrides=[
            f"tracking.mlflow={uri}",
            f"tracking.artifact_location={artifacts}",
            "tracking.experiment=search",
        ],
        log=lambda *a: None,
    )
    _, runs = _runs(uri, "search")
    assert sorted(r.data.tags["tfmm.run_dir"] for r in runs) == sorted(
        str(p) for p in (out / "trials").iterdir()
    )
    assert sorted(r.data.params["training.learning_rate"] for r in runs) == ["0.001", "0.01"]


def test_a_resumed_run_logs_to_its_mlflow_run(tmp_path):
    uri, artifacts = _store(tmp_path)
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "text", "type": "text"}],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
            "tracking": {"mlflow": uri, "artifact_location": artifacts},
        }
    )
    first = Tracker.start(config, str(tmp_path))
    first.log_metrics({"loss": 1.0}, step=1)
    again = Tracker.start(config, str(tmp_path))  # the command started again
    assert again.run_id == first.run_id
    again.log_metrics({"loss": 0.5}, step=2)
    client, runs = _runs(uri, "tfmm")
    assert len(runs) == 1
    assert [m.value for m in client.get_metric_history(first.run_id, "loss")] == [1.0, 0.5]


def test_without_the_key_nothing_is_tracked_and_without_mlflow_the_key_fails(tmp_path, monkeypatch):
    from tfmm._extras import MissingExtra

    plain = tfmm.config_from_dict(
        {
            "inputs": [{"name": "text", "type": "text"}],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert Tracker.start(plain, str(tmp_path)) is None
    assert not (tmp_path / "tracking.json").exists()
    tracked = tfmm.config_from_dict(
        {
            "inputs": [{"name": "text", "type": "text"}],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
            "tracking": {"mlflow": "sqlite:///x.db"},
        }
    )
    with pytest.raises(MissingExtra) as e:
        Tracker.start(tracked, str(tmp_path))
    assert "pip install 'tfmm[mlflow]'" in str(e.value)


def test_an_unusable_tracking_uri_is_one_line_naming_the_key(tmp_path):
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "text", "type": "text"}],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
            "tracking": {"mlflow": "nosuchscheme://x"},
        }
    )
    with pytest.raises(RuntimeError) as e:
        Tracker.start(config, str(tmp_path))
    assert str(e.value).startswith("tracking.mlflow 'nosuchscheme://x': ")
    assert len(str(e.value).splitlines()) == 1
