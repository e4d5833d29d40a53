"""Experiment tracking with MLflow (the `tfmm[mlflow]` extra).

With `tracking: {mlflow: URI}` (or `tfmm train --mlflow URI`), every `tfmm train` run, and
so every `tfmm tune` trial, is an MLflow run in the experiment `tracking.experiment`
(default: the config's `name`): the config as parameters (key paths, e.g.
`training.learning_rate`), each epoch's logs as metrics (step = epoch), the test metrics
(`test_OUTPUT_METRIC`) and the kept epoch at the end, and the run directory's files as
artifacts (`model.keras`, `config.yaml`, `history.csv`, `metrics.json`, plots). `tfmm
export` adds the export's path to the same run (tag `tfmm.export`). The MLflow run's id
is kept in the run directory (`tracking.json`), so a resumed run logs to the same MLflow
run. URI is any MLflow tracking URI: a database (`sqlite:///mlflow.db`), a server
(`http://host:5000`) or a folder. Without the key nothing is logged and MLflow is never
imported.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Optional

from tfmm.files import write_json

RUN_FILE = "tracking.json"
# MLflow refuses longer parameter values (its limit is 6000 characters).
MAX_PARAM = 6000


def flatten(data, prefix="") -> dict:
    """{key.path: value} of a nested dict (lists of mappings by their `name` or index)."""
    out = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}{v.get('name', i)}."))
    else:
        out[prefix[:-1]] = data
    return out


def scalar_metrics(metrics: dict, prefix: str) -> dict:
    """The finite numbers of a metrics dict, flattened: {prefix_OUTPUT_KEY: value}."""
    out = {}
    for key, value in flatten(metrics).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[f"{prefix}{key.replace('.', '_')}"] = float(value)
    return out


class Tracker:
    """One tfmm run's MLflow run (through `MlflowClient`, so no global active run)."""

    def __init__(self, client, run_id: str):
        self.client, self.run_id = client, run_id

    @classmethod
    def start(cls, config, run_dir: str) -> Optional["Tracker"]:
        """The run's tracker, or None when the config tracks nothing. A run directory
        that already has an MLflow run (a resumed run) logs to it again."""
        t = getattr(config, "tracking", None)
        if t is None or not t.mlflow:
            return None
        from tfmm._extras import require

        require("mlflow", "tracking.mlflow")
        try:
            return cls._start(config, run_dir, t)
        except Exception as e:  # an unreachable server, a bad URI: one line, by key
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise RuntimeError(f"tracking.mlflow {t.mlflow!r}: {first}") from None

    @classmethod
    def _start(cls, config, run_dir, t):
        import mlflow

        client = mlflow.tracking.MlflowClient(tracking_uri=t.mlflow)
        path = os.path.join(run_dir, RUN_FILE)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            if saved.get("tracking_uri") == t.mlflow:
                client.update_run(saved["run_id"], status="RUNNING")
                return cls(client, saved["run_id"])
        name = t.experiment or config.name
        experiment = client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment(name, artifact_location=t.artifact_location)
        )
        run = client.create_run(
            experiment_id,
            run_name=os.path.basename(os.path.abspath(run_dir)),
            tags={"tfmm.run_dir": os.path.abspath(run_dir)},
        )
        tracker = cls(client, run.info.run_id)
        write_json(
            path,
            {"tracking_uri": t.mlflow, "experiment_id": experiment_id, "run_id": tracker.run_id},
        )
        tracker.log_params(config.to_dict(absolute_paths=True))
        return tracker

    @classmethod
    def of_run(cls, run_dir: str) -> Optional["Tracker"]:
        """The tracker of a finished run directory that has one (for `tfmm export`)."""
        path = os.path.join(run_dir, RUN_FILE)
        if not os.path.exists(path):
            return None
        from tfmm._extras import require

        mlflow = require("mlflow", "tracking.mlflow")
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        return cls(
            mlflow.tracking.MlflowClient(tracking_uri=saved["tracking_uri"]), saved["run_id"]
        )

    def log_params(self, config_dict: dict):
        from mlflow.entities import Param

        params = [
            Param(k, json.dumps(v) if not isinstance(v, str) else v)
            for k, v in flatten(config_dict).items()
        ]
        for p in params:
            if len(p.value) > MAX_PARAM:
                params[params.index(p)] = Param(p.key, p.value[: MAX_PARAM - 3] + "...")
        for i in range(0, len(params), 100):  # MLflow's batch limit
            self.client.log_batch(self.run_id, params=params[i : i + 100])

    def log_metrics(self, values: dict, step: int = 0):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, step)
            for k, v in values.items()
            if isinstance(v, (int, float)) and math.isfinite(float(v))
        ]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def callback(self):
        """A Keras callback that logs each epoch's logs (step = the epoch, from 1)."""
        import keras

        tracker = self

        class MlflowEpochs(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                tracker.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch + 1)

        return MlflowEpochs()

    def finish(self, run_dir: str, metrics: dict):
        """The test metrics, the kept epoch and the run directory's files; the run ends."""
        self.log_metrics(scalar_metrics(metrics, "test_"))
        best = os.path.join(run_dir, "best.json")
        if os.path.exists(best):
            with open(best, encoding="utf-8") as f:
                kept = json.load(f)
            self.client.set_tag(self.run_id, "tfmm.kept_epoch", str(kept.get("epoch")))
        for name in sorted(os.listdir(run_dir)):
            if name.endswith((".keras", ".yaml", ".csv", ".json", ".png")) and name != RUN_FILE:
                self.client.log_artifact(self.run_id, os.path.join(run_dir, name))
        self.client.set_terminated(self.run_id, status="FINISHED")

    def failed(self):
        self.client.set_terminated(self.run_id, status="FAILED")

    def log_export(self, path: str):
        self.client.set_tag(self.run_id, "tfmm.export", os.path.abspath(path))
