"""`tfmm tune`: a hyperparameter search over any config keys, on KerasTuner.

KerasTuner's oracles choose the values (random search, Bayesian optimisation,
Hyperband), keep the trials' bookkeeping on disk and resume a killed search; tfmm runs
each trial as an ordinary `tfmm train` run directory (`OUT/trials/TRIAL_ID/`: config,
history, best weights) on the training and validation splits only. The objective is the
monitored validation value of the epoch the run keeps (`best.json`). When every trial
has finished, the best trial's model is scored on the test split, once, and the search
writes:

- `OUT/trials.csv`: one row per trial (its settings, status, objective, kept epoch),
  best first; the same table is printed;
- `OUT/best.yaml`: the best trial's config, `data.test` restored, for `tfmm train`;
- `OUT/test_metrics.json`: the best trial's test metrics (read once);
- `OUT/hparams/`: the trials for TensorBoard's HParams dashboard.

Started again after a kill, the same command resumes: finished trials are kept, the trial
that was running runs again (its run directory resumes after its last finished epoch).

Distributed (KerasTuner's chief/worker mode): the chief runs the oracle, each worker asks
it for trials and runs them; all share OUT (a shared file system). `tfmm tune ... --chief
--oracle HOST:PORT` and `tfmm tune ... --worker NAME --oracle HOST:PORT`, or KerasTuner's
own variables `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`.

Example:

```python
from tfmm.tuning import tune
summary = tune("config.yaml", "space.yaml", "tuning/run1", max_trials=12)
summary["best"]["objective"], summary["test_metrics"]
```
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from typing import Callable, Optional

import yaml

from tfmm import _log
from tfmm._extras import require
from tfmm.files import RunDir, atomic_path, write_json, write_text
from tfmm.tuning.space import Space, SpaceError

ALGORITHMS = ("random", "bayesian", "hyperband")


class TuningError(RuntimeError):
    """A search cannot run or continue; the message says why."""


def objective_of(config, objective: Optional[str]):
    """(objective name, "min" or "max"): `objective`, or the config's resolved
    `training.monitor`; a name with accuracy, auc or f1 is maximised."""
    from tfmm.training.callbacks import resolve_monitor

    if objective is None:
        return resolve_monitor(config)
    mode = "max" if any(k in objective for k in ("accuracy", "auc", "f1")) else "min"
    return objective, mode


def _base(config_path: str, overrides):
    from tfmm.config import apply_override

    try:
        with open(config_path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise SpaceError(f"config file not found: {config_path!r}") from None
    for item in overrides or ():
        apply_override(data, item)
    return data, os.path.dirname(os.path.abspath(config_path))


def _set_role(role: Optional[str], oracle: Optional[str], worker: Optional[str]):
    """Sets KerasTuner's distributed-mode variables from `--chief` / `--worker`."""
    if role is None:
        return
    if not oracle or ":" not in oracle:
        raise TuningError(
            f"--{role} needs --oracle HOST:PORT (where the chief serves the "
            f"oracle). Received: {oracle!r}"
        )
    host, port = oracle.rsplit(":", 1)
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = port
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if role == "chief" else (worker or "tuner0")


def _role() -> str:
    if not os.environ.get("KERASTUNER_ORACLE_IP"):
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def tune(
    config_path: str,
    space_path: str,
    out_dir: str,
    max_trials: int = 12,
    objective: Optional[str] = None,
    algorithm: str = "random",
    seed: int = 0,
    overrides=(),
    role: Optional[str] = None,
    oracle: Optional[str] = None,
    worker: Optional[str] = None,
    log: Optional[Callable[[str], None]] = None,
    executions_per_trial: int = 1,
) -> dict:
    """Runs (or resumes) a search; see the module docstring.

    Args:
        config_path: the base config (YAML); `overrides` are `--set` strings on it.
        space_path: the search space (YAML; `tfmm.tuning.space`).
        out_dir: the search's folder (trials, KerasTuner's state, results).
        max_trials: trials in all (random, bayesian); Hyperband's count follows from
            `training.epochs` (its largest budget) and its factor 3.
        objective: the validation value to optimise; default: `training.monitor`
            resolved (the first classification output's validation accuracy).
        algorithm: "random", "bayesian" or "hyperband".
        seed: the oracle's seed (the trials' data and initialisation follow
            `data.seed`, the same for every trial).
        role: distributed mode: `"chief"` or `"worker"` (None: one process, or
            KerasTuner's `KERASTUNER_*` variables as already set).
        oracle: the chief's HOST:PORT (with `role`).
        worker: the worker's name (with `role="worker"`).
        executions_per_trial: training runs per trial, with data seeds `data.seed`,
            `data.seed` + 1, ... (`OUT/trials/ID/seed-S/`); the trial's score is their
            mean, which ranks configs rather than lucky runs on a small validation split.

    Returns:
        {"role", "trials": [rows], "best": row or None, "test_metrics": dict or None}.
    """
    keys = ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        return _tune(
            config_path,
            space_path,
            out_dir,
            max_trials,
            objective,
            algorithm,
            seed,
            overrides,
            role,
            oracle,
            worker,
            log,
            executions_per_trial,
        )
    finally:
        if role is not None:  # the flags' variables end with the call
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _tune(
    config_path,
    space_path,
    out_dir,
    max_trials,
    objective,
    algorithm,
    seed,
    overrides,
    role,
    oracle,
    worker,
    log,
    executions,
):
    log = log or _log.info
    keras_tuner = require("keras_tuner", "tfmm tune")
    if algorithm not in ALGORITHMS:
        raise TuningError(f"--algorithm: one of {list(ALGORITHMS)}. Received: {algorithm!r}")
    if max_trials < 1:
        raise TuningError(f"--max-trials: at least 1. Received: {max_trials}")
    if executions < 1:
        raise TuningError(f"--executions-per-trial: at least 1. Received: {executions}")
    base, base_dir = _base(config_path, overrides)
    space = Space.load(space_path, base, base_dir)
    base_config = space.config({})
    name, mode = objective_of(base_config, objective)
    if not base_config.data.val:
        raise TuningError(
            "tfmm tune chooses on the validation split: the config needs "
            "data.val (the test split is read once, for the best trial)"
        )
    _set_role(role, oracle, worker)
    role = _role()
    os.makedirs(out_dir, exist_ok=True)
    hp = keras_tuner.HyperParameters()
    for d in space.dimensions:
        d.add_to(hp)
    kt_objective = keras_tuner.Objective(name, direction=mode)
    common = dict(
        objective=kt_objective,
        hyperparameters=hp,
        seed=seed,
        allow_new_entries=False,
        tune_new_entries=False,
    )
    if algorithm == "random":
        oracle_obj = keras_tuner.oracles.RandomSearchOracle(max_trials=max_trials, **common)
    elif algorithm == "bayesian":
        oracle_obj = keras_tuner.oracles.BayesianOptimizationOracle(
            max_trials=max_trials, num_initial_points=min(3, max_trials), **common
        )
    else:
        oracle_obj = keras_tuner.oracles.HyperbandOracle(
            max_epochs=base_config.training.epochs, factor=3, **common
        )
    tuner = _tuner_class(keras_tuner)(
        oracle=oracle_obj,
        space=space,
        runs_dir=os.path.join(out_dir, "trials"),
        objective=(name, mode),
        trial_log=log,
        executions=executions,
        directory=out_dir,
        project_name="keras_tuner",
        overwrite=False,
    )
    log(
        f"tfmm tune: {algorithm} search over {[d.key for d in space.dimensions]}, "
        f"{'max_trials ' + str(max_trials) if algorithm != 'hyperband' else 'hyperband'}; "
        f"objective {name} ({mode}) on the validation split"
        + (
            ""
            if role == "single"
            else f"; {role} {os.environ['KERASTUNER_TUNER_ID']} of "
            f"oracle {os.environ['KERASTUNER_ORACLE_IP']}:"
            f"{os.environ['KERASTUNER_ORACLE_PORT']}"
        )
    )
    try:
        tuner.search(verbose=0)
    except keras_tuner.errors.FatalError as e:
        raise TuningError(str(e)) from None
    except RuntimeError as e:  # KerasTuner: too many consecutive failed trials
        lines = [line for line in str(e).splitlines() if line.strip()]
        table = os.path.join(out_dir, "trials.csv")
        rows = _rows(
            tuner.oracle,
            space,
            os.path.join(out_dir, "trials"),
            name,
            mode,
            executions,
            base_config.data.seed,
        )
        _write_csv(table, rows)
        raise TuningError(
            f"{lines[0]} The last failure: {lines[-1].strip()}; every trial in {table}"
        ) from None
    if role == "worker":
        log(
            f"tfmm tune: worker {os.environ['KERASTUNER_TUNER_ID']} done: the oracle "
            f"has no more trials"
        )
        return {"role": role, "trials": [], "best": None, "test_metrics": None}
    return _finish(tuner.oracle, space, base_config, out_dir, name, mode, log, executions) | {
        "role": role
    }


def _tuner_class(keras_tuner):
    class TfmmTuner(keras_tuner.Tuner):
        """Runs each trial as a `tfmm train` run directory (no test split)."""

        def __init__(self, oracle, space, runs_dir, objective, trial_log, executions, **kwargs):
            self.space, self.runs_dir, self.executions = space, runs_dir, executions
            self.objective_name, self.mode = objective
            self.trial_log = trial_log
            super().__init__(oracle=oracle, **kwargs)

        def run_trial(self, trial, *args, **kwargs):
            return run_trial(self, trial, keras_tuner)

        def save_model(self, trial_id, model, step=0):
            pass  # each trial's run directory holds its models

        def load_model(self, trial):
            import keras

            run_dir, _ = execution_dirs(self.runs_dir, trial.trial_id, self.executions, 0)[0]
            return keras.saving.load_model(RunDir(run_dir).model, safe_mode=True)

    return TfmmTuner


def trial_config(space: Space, values: dict, objective: str):
    """The config of a trial: the space's point, without the test split, monitoring the
    objective."""
    config = space.config(values)
    return dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, test=None),
        training=dataclasses.replace(config.training, monitor=objective),
    )


def run_trial(tuner, trial, keras_tuner):
    from tfmm._extras import MissingExtra
    from tfmm.config import ConfigError
    from tfmm.data.errors import DataError
    from tfmm.training import TrainingError, train

    hp_values = trial.hyperparameters.values
    values = {d.key: hp_values[d.key] for d in tuner.space.dimensions if d.key in hp_values}
    shown = {d.key: d.decode(values[d.key]) for d in tuner.space.dimensions if d.key in values}
    try:
        config = trial_config(tuner.space, values, tuner.objective_name)
        if "tuner/epochs" in hp_values:  # Hyperband's budget for this trial
            epochs = int(hp_values["tuner/epochs"])
            config = dataclasses.replace(
                config,
                training=dataclasses.replace(
                    config.training,
                    epochs=epochs,
                    warmup_epochs=config.training.warmup_epochs
                    if config.training.warmup_epochs == "auto"
                    else min(config.training.warmup_epochs, epochs),
                ),
            )
    except ConfigError as e:
        raise keras_tuner.errors.FailedTrialError(f"trial {trial.trial_id}: {e}") from None
    scores, epochs = [], []
    for run_dir, seed in execution_dirs(
        tuner.runs_dir, trial.trial_id, tuner.executions, config.data.seed
    ):
        run_config = dataclasses.replace(config, data=dataclasses.replace(config.data, seed=seed))
        run = RunDir(run_dir)
        if os.path.exists(run.config):
            # A trial run again after a kill resumes (or reuses) its own run directory; a
            # folder holding another point of the space is another search's: stop.
            try:
                _check_same_point(run, run_config, tuner.space)
            except TuningError as e:
                raise keras_tuner.errors.FatalError(str(e)) from None
        if not run.is_finished():
            extra = f" (data.seed {seed})" if tuner.executions > 1 else ""
            tuner.trial_log(f"tfmm tune: trial {trial.trial_id} {shown}{extra}")
            try:
                train(run_config, run_dir, log=lambda *a: None, verbose=0)
            except (DataError, MissingExtra, FileNotFoundError) as e:
                # The same for every trial (the data, the install): stop the search.
                raise keras_tuner.errors.FatalError(f"trial {trial.trial_id}: {e}") from None
            except TrainingError as e:  # this point of the space diverged (a NaN loss)
                raise keras_tuner.errors.FailedTrialError(f"trial {trial.trial_id}: {e}") from None
        best = _best(run_dir, tuner.objective_name)
        scores.append(best["value"])
        epochs.append(best["epoch"])
    score = float(sum(scores) / len(scores))
    spread = (
        f" = mean of {', '.join(f'{v:.4f}' for v in scores)} over data seeds"
        if len(scores) > 1
        else ""
    )
    tuner.trial_log(
        f"tfmm tune: trial {trial.trial_id} -> {tuner.objective_name} {score:.4f}{spread} "
        f"(epoch {', '.join(map(str, epochs))})"
    )
    return {tuner.objective_name: score}


def execution_dirs(runs_dir: str, trial_id: str, executions: int, seed: int):
    """[(run directory, data.seed)] of a trial's executions: `runs_dir/ID` for one,
    `runs_dir/ID/seed-S` for several (data seeds `seed`, `seed` + 1, ...)."""
    if executions == 1:
        return [(os.path.join(runs_dir, trial_id), seed)]
    return [
        (os.path.join(runs_dir, trial_id, f"seed-{seed + k}"), seed + k) for k in range(executions)
    ]


def _value_at(data, key: str):
    for part in key.split("."):
        if isinstance(data, list):
            names = [x.get("name") for x in data if isinstance(x, dict)]
            data = data[names.index(part)] if part in names else data[int(part)]
        else:
            data = data[part]
    return data


def _check_same_point(run: RunDir, config, space: Space):
    with open(run.config, encoding="utf-8") as f:
        saved = yaml.safe_load(f)
    wanted = config.to_dict()
    for d in space.dimensions:
        try:
            before, now = _value_at(saved, d.key), _value_at(wanted, d.key)
        except (KeyError, IndexError, ValueError, TypeError):
            before, now = "(missing)", "(set)"
        same = before == now or (
            isinstance(before, float) and isinstance(now, float) and math.isclose(before, now)
        )
        if not same:
            raise TuningError(
                f"{run.path} holds a run with {d.key}={before!r}, not this trial's "
                f"{now!r}: the folder belongs to another search; give another --out"
            )


def _best(run_dir: str, objective: str) -> dict:
    path = os.path.join(run_dir, "best.json")
    if not os.path.exists(path):
        history = os.path.join(run_dir, "history.csv")
        keys = []
        if os.path.exists(history):
            with open(history, encoding="utf-8") as f:
                keys = next(csv.reader(f), [])
        raise TuningError(
            f"trial run {run_dir!r} logged no {objective!r}; its history has "
            f"{[k for k in keys if k != 'epoch']}: pass one as --objective"
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _rows(
    oracle, space: Space, runs_dir: str, name: str, mode: str, executions: int = 1, seed: int = 0
) -> list[dict]:
    rows = []
    for trial_id, trial in sorted(oracle.trials.items()):
        values = trial.hyperparameters.values
        row = {"trial": trial_id, "status": str(trial.status).split(".")[-1]}
        for d in space.dimensions:
            value = d.decode(values.get(d.key))
            row[d.key] = json.dumps(value) if isinstance(value, (list, dict)) else value
        if "tuner/epochs" in values:
            row["epochs"] = values["tuner/epochs"]
        if trial.message:
            row["message"] = trial.message.strip().splitlines()[-1][:200]
        score = trial.score
        row[name] = None if score is None or not math.isfinite(score) else float(score)
        kept = []
        for run_dir, _ in execution_dirs(runs_dir, trial_id, executions, seed):
            best_json = os.path.join(run_dir, "best.json")
            if os.path.exists(best_json):
                with open(best_json, encoding="utf-8") as f:
                    kept.append(json.load(f))
        if executions == 1:
            row["epoch"] = kept[0].get("epoch") if kept else None
        else:  # each execution's value and kept epoch
            row["runs"] = " / ".join(f"{b['value']:.4g}" for b in kept) or None
            row["epoch"] = " / ".join(str(b.get("epoch")) for b in kept) or None
        rows.append(row)
    sign = -1 if mode == "max" else 1
    rows.sort(key=lambda r: (r[name] is None, sign * (r[name] or 0.0), r["trial"]))
    return rows


def _finish(oracle, space, base_config, out_dir, name, mode, log, executions=1) -> dict:
    runs_dir = os.path.join(out_dir, "trials")
    rows = _rows(oracle, space, runs_dir, name, mode, executions, base_config.data.seed)
    _write_csv(os.path.join(out_dir, "trials.csv"), rows)
    log(format_table(rows))
    best = next((r for r in rows if r[name] is not None), None)
    if best is None:
        raise TuningError(
            f"no trial finished with a {name!r} value; see {os.path.join(out_dir, 'trials.csv')}"
        )
    # The best trial's first execution (data.seed as configured) stands for it.
    best_run = RunDir(
        execution_dirs(runs_dir, best["trial"], executions, base_config.data.seed)[0][0]
    )
    _write_best_config(best_run, base_config, os.path.join(out_dir, "best.yaml"))
    write_hparams(os.path.join(out_dir, "hparams"), rows, space, name)
    test_metrics = _score_test_once(best_run, best, base_config, out_dir, log)
    log(
        f"tfmm tune: best trial {best['trial']} ({name} {best[name]:.4f}); config "
        f"{os.path.join(out_dir, 'best.yaml')}; table {os.path.join(out_dir, 'trials.csv')}"
    )
    return {"trials": rows, "best": best, "test_metrics": test_metrics}


def _write_csv(path, rows):
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)


def format_table(rows: list[dict]) -> str:
    """The trials as a fixed-width table, best first."""
    if not rows:
        return "(no trials)"
    keys = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v):
        return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    widths = {k: max(len(k), *(len(cell(r.get(k))) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(cell(r.get(k)).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)


def _write_best_config(best_run: RunDir, base_config, path: str):
    """The best trial's config as `tfmm train` takes it: the trial's resolved
    config.yaml (absolute data paths) with `data.test` and `training.monitor` restored
    from the base config."""
    with open(best_run.config, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["data"]["test"] = base_config.to_dict(absolute_paths=True)["data"]["test"]
    data["training"]["monitor"] = base_config.training.monitor
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def _score_test_once(best_run: RunDir, best: dict, base_config, out_dir, log):
    """The best trial's test metrics: computed the first time, read back after."""
    path = os.path.join(out_dir, "test_metrics.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if saved.get("trial") == best["trial"]:
            return saved["metrics"]
    if not base_config.data.test:
        log("tfmm tune: no data.test in the config: the best trial is not tested")
        return None
    from tfmm.training import evaluate

    model, config, vocabularies = RunDir.load(best_run.path)
    metrics = evaluate(
        model,
        config,
        base_config.resolve_path(base_config.data.test),
        vocabularies,
        split="the test split (data.test), once, for the best trial",
    )
    write_json(path, {"trial": best["trial"], "metrics": metrics})
    headline = {
        output: {k: round(v, 4) for k, v in m.items() if isinstance(v, float)}
        for output, m in metrics.items()
    }
    log(f"tfmm tune: the best trial on the test split (read once): {json.dumps(headline)}")
    return metrics


def write_hparams(folder: str, rows: list[dict], space: Space, objective: str):
    """The trials for TensorBoard's HParams dashboard (one run per trial)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api

    def scalar(v):
        return v if isinstance(v, (int, float, str, bool)) else json.dumps(v)

    os.makedirs(folder, exist_ok=True)
    with tf.summary.create_file_writer(folder).as_default():
        hp_api.hparams_config(
            hparams=[hp_api.HParam(d.key) for d in space.dimensions],
            metrics=[hp_api.Metric(objective)],
        )
    for r in rows:
        if r[objective] is None:
            continue
        with tf.summary.create_file_writer(os.path.join(folder, r["trial"])).as_default():
            hp_api.hparams({d.key: scalar(r[d.key]) for d in space.dimensions}, trial_id=r["trial"])
            tf.summary.scalar(objective, r[objective], step=1)
