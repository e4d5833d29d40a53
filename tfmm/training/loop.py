"""`tfmm train`: model.fit and nothing clever.

`train()` is a sequence of named steps: set up the process (strategy, seed, run
directory, lock), read and check the data and fit the vocabularies, build the model, fit
each phase, then keep the best epoch, save, and evaluate on the test split. The steps'
parts live beside this module: `setup` (datasets, steps, phases; shared with
`tfmm pretrain`), `optimizers`, `callbacks`, `inference` (evaluate, predict) and
`reports`.
"""

import contextlib
import json
import os
import shutil
import sys

import keras

from tfmm._keras_compat import build_from_spec, keras_multiworker_fixes
from tfmm.data import Manifest
from tfmm.data.pipeline import load_manifest, source_kind
from tfmm.data.stream import ParquetStream, open_stream, streams
from tfmm.files import RunDir
from tfmm.models import build_model, compile_model
from tfmm.tracking.tracker import Tracker
from tfmm.training.callbacks import (
    build_callbacks,
    kept_epoch_reason,
    nan_message,
    save_model_atomically,
)
from tfmm.training.inference import evaluate
from tfmm.training.init_from import initialise_from
from tfmm.training.optimizers import build_optimizer, set_precision
from tfmm.training.reports import plot_history
from tfmm.training.setup import (
    distributed_dataset,
    eval_plan,
    fit_vocabularies,
    global_batch_size,
    pretrained_encoders,
    run_lock,
    steps_per_epoch,
    training_phases,
    worker_run_dir,
)
from tfmm.training.strategy import describe, get_strategy, is_multiworker
from tfmm import _log


class TrainingError(RuntimeError):
    """Training could not finish (for example, the loss became NaN)."""


def train(config, run_dir, log=None, verbose="auto"):
    """Trains the model of `config`, writing everything to `run_dir`.

    Started again with the same arguments after a kill, it resumes from the last finished
    epoch (see `tfmm.training.callbacks.Backup`). Writes: `config.yaml` (resolved, with
    labels), `vocabularies.json`, `best.keras`, `model.keras`, `history.csv`, `logs/`,
    `metrics.json` (test split, if any) and plots. With `training.restore_best` (the
    default) `model.keras` and the test metrics hold the best epoch's weights
    (`best.keras`, on `training.monitor`), and the log says which epoch that was.

    With `training.freeze_pretrained_epochs: N`, the pretrained encoders are frozen for the
    first N epochs, then unfrozen and trained at `training.finetune_learning_rate`: two
    `model.fit` calls (the optimizer is rebuilt for the new set of trainable weights), each
    with its own backup, so a kill in either phase resumes in that phase.

    Returns:
        (model, metrics dict).

    Example:

    ```python
    config = tfmm.load_config("config.yaml", overrides=["training.epochs=2"])
    model, metrics = tfmm.training.train(config, "runs/try1")
    ```
    """
    log = log or _log.info
    if verbose == "auto":
        # A redrawn progress bar on a terminal; one line per epoch in a log file.
        verbose = 1 if sys.stdout.isatty() else 2
    if RunDir(run_dir).is_finished():
        raise FileExistsError(
            f"run directory {run_dir!r} holds a finished run (model.keras); "
            f"give another --out, or delete it to train again"
        )
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.data.seed)
    strategy = get_strategy(config.training.strategy)
    run_dir, is_chief = worker_run_dir(strategy, run_dir)
    os.makedirs(run_dir, exist_ok=True)
    # The run's precision policy is global in Keras: the caller's comes back however the
    # run ends (a failed mixed-precision run must not leak float16 into the next).
    policy = keras.mixed_precision.global_policy()
    try:
        with run_lock(run_dir):
            return _train(config, run_dir, strategy, is_chief, log, verbose)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _train(config, run_dir, strategy, is_chief, log, verbose):
    run = RunDir(run_dir)
    log(f"tfmm train: strategy {describe(strategy)}; precision {set_precision(config, strategy)}")
    train_columns, vocabularies = _read_training_data(config, run, log)
    run.write_config(config, vocabularies)
    train_ds, val_ds, val_steps, steps = _datasets(
        config, train_columns, vocabularies, strategy, run, log
    )
    model = _build(config, vocabularies, strategy, log)
    phases = training_phases(config, log)
    # MLflow (`tracking.mlflow`), from the chief alone; a resumed run logs to its run.
    tracker = Tracker.start(config, run.path) if is_chief else None
    try:
        for k in range(len(phases)):
            _fit_phase(
                model,
                config,
                run,
                phases,
                k,
                strategy,
                train_ds,
                val_ds,
                val_steps,
                steps,
                log,
                verbose,
                extra_callbacks=[tracker.callback()] if tracker else [],
            )
    except BaseException:
        if tracker is not None:
            with contextlib.suppress(Exception):  # the training error is the one to see
                tracker.failed()
        raise
    _save(
        model,
        config,
        run,
        log,
        before_save=lambda: _resolve_after_training(model, config, vocabularies, run, log),
    )
    if is_multiworker(strategy):
        # The test split is evaluated by the chief alone, on a copy of the model outside
        # the strategy: prediction under it would need every worker in step.
        model = keras.saving.load_model(run.model, safe_mode=True)
    metrics = {}
    if config.data.test and is_chief:
        metrics = evaluate(
            model,
            config,
            config.resolve_path(config.data.test),
            vocabularies,
            run_dir=run.path,
            split="the test split (data.test)",
        )
    run.write_metrics(metrics)
    _clean_up(run, len(phases))
    if tracker is not None:
        tracker.finish(run.path, metrics)
    return model, metrics


def _read_training_data(config, run, log):
    """(the training split's columns, vocabularies). Every manifest is checked (and its
    problems reported) once, before any model is built; the rows kept are what the
    datasets read."""
    if config.data.train is None:
        raise ValueError("data.train: required to train (a manifest, TFRecord glob or tfds:)")
    stream = open_stream(
        config, config.resolve_path(config.data.train), report_dir=run.path, log=log
    )
    if stream is not None:
        log(
            f"tfmm train: streaming {stream.path!r} ({len(stream)} rows, "
            f"{stream.row_groups} row groups; preprocessing fitted on up to "
            f"{config.data.fit_rows} rows)"
        )
        stream.check()
        return stream, fit_vocabularies(config, stream)
    manifest = Manifest(config.resolve_path(config.data.train))
    columns = load_manifest(config, manifest, report_dir=run.path, log=log)
    return columns, fit_vocabularies(config, manifest)


def _datasets(config, train_columns, vocabularies, strategy, run, log):
    """(train dataset, val dataset or None, val steps, train steps per epoch), distributed
    over `strategy`'s replicas."""
    batch = global_batch_size(config, strategy)
    log(
        f"tfmm train: global batch {batch} = {config.data.batch_size} per replica "
        f"x {strategy.num_replicas_in_sync}"
    )
    val_steps, val_repeat = (
        eval_plan(config, config.data.val, batch, strategy) if config.data.val else (None, False)
    )
    train_ds = distributed_dataset(
        strategy,
        config,
        train_columns,
        vocabularies,
        batch,
        training=True,
        report_dir=run.path,
        repeat=True,
    )
    val_ds = None
    if config.data.val:
        val_src = config.resolve_path(config.data.val)
        val = (
            load_manifest(config, val_src, report_dir=run.path, log=log)
            if source_kind(val_src) == "manifest" and not streams(config, val_src)
            else val_src
        )
        val_ds = distributed_dataset(
            strategy,
            config,
            val,
            vocabularies,
            batch,
            training=False,
            report_dir=run.path,
            repeat=val_repeat,
        )
    rows = (
        len(train_columns)
        if isinstance(train_columns, ParquetStream)
        else len(next(iter(train_columns.values())))
    )
    return train_ds, val_ds, val_steps, steps_per_epoch(config, rows, batch)


def _build(config, vocabularies, strategy, log):
    """The model, under the strategy's scope, its encoders initialised from
    `training.init_from` when set."""
    with strategy.scope():
        model = build_model(config, vocabularies)
    init_from = config.resolve_path(config.training.init_from)
    if init_from:
        initialise_from(model, config, init_from, log=log)
    return model


def _fit_phase(
    model,
    config,
    run,
    phases,
    k,
    strategy,
    train_ds,
    val_ds,
    val_steps,
    steps,
    log,
    verbose,
    extra_callbacks=(),
):
    """Phase `k` of `training_phases`: its encoders frozen or not, the optimizer rebuilt
    for its trainable weights, and `model.fit` over its epochs with its own backup (a
    kill in either phase resumes in that phase). A finished phase is skipped."""
    first, end, lr, frozen = phases[k]
    done, backup = run.phase_done(k + 1), run.phase_backup(k + 1, len(phases))
    for name in pretrained_encoders(config):
        model.get_layer(name).trainable = name not in frozen
    with strategy.scope():
        compile_model(
            model,
            config,
            optimizer=build_optimizer(config, steps, lr, end - first, warmup=k == 0),
            jit_compile=config.training.jit_compile,
        )
        if strategy.num_replicas_in_sync > 1:
            build_from_spec(model, train_ds.element_spec)
    if os.path.exists(done):
        log(f"tfmm train: phase {k + 1} already finished; its weights are in {done}")
        return
    if k > 0:
        # Through a bare model over the same layers, as it was saved (no optimizer).
        keras.Model(model.inputs, model.outputs).load_weights(run.phase_done(k))
    if len(phases) > 1 or frozen:
        log(
            f"tfmm train: phase {k + 1}/{len(phases)}: epochs {first + 1}-{end} at "
            f"learning rate {lr:g}"
            + (f", frozen: {', '.join(frozen)}" if frozen else ", all encoders trainable")
        )
    last = k == len(phases) - 1
    callbacks = build_callbacks(
        config,
        run.path,
        backup_dir=backup,
        log=log,
        done_path=None if last else done,
        keep_backup=last,
    ) + list(extra_callbacks)
    with keras_multiworker_fixes(strategy):
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=end,
            initial_epoch=first,
            steps_per_epoch=steps,
            validation_steps=val_steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )
    if nan_message(callbacks):
        raise TrainingError(nan_message(callbacks))


def _save(model, config, run, log, before_save=None):
    """The best epoch's weights (`training.restore_best`) saved as `model.keras`, the
    run's commit point: until it is whole, the last epoch's backup stays, so a kill here
    resumes from it (and runs no epoch again). Then the learning curves."""
    if config.training.restore_best:
        _restore_best(model, run.path, config.training.epochs, log)
    if before_save is not None:
        before_save()
    save_model_atomically(model, run.model)
    shutil.rmtree(run.backup, ignore_errors=True)
    plot_history(run.path)


def _resolve_after_training(model, config, vocabularies, run, log):
    """What is fitted on the validation split with the kept weights, from one prediction
    pass over it: first each calibrated output's temperature (`calibration`), then each
    `threshold: auto` on the calibrated probabilities. Both are written into the
    output's config (config.yaml) and its head (model.keras)."""
    from tfmm.training.inference import predict_arrays

    calibrated = [
        o
        for o in config.outputs
        if o.calibration == "temperature"
        or (o.calibration == "auto" and o.type != "regression" and config.data.val)
    ]
    auto = [o for o in config.outputs if o.threshold == "auto"]
    if not calibrated and not auto:
        return
    if not config.data.val:
        key, what = (
            ("calibration", "'temperature' is fitted")
            if calibrated
            else ("threshold", "'auto' is chosen")
        )
        name = (calibrated or auto)[0].name
        raise ValueError(f"outputs[{name!r}].{key}: {what} on the validation split; set data.val")
    preds, targets = predict_arrays(
        model, config, config.resolve_path(config.data.val), vocabularies, with_labels=True
    )
    _resolve_temperatures(model, calibrated, preds, targets, log)
    _resolve_thresholds(model, auto, preds, targets, log)
    run.write_config(config, vocabularies)


def _resolve_temperatures(model, outputs, preds, targets, log):
    """Each output's temperature with the lowest validation NLL (`tfmm.calibration`);
    `preds` become the calibrated probabilities. The model's compiled functions are
    dropped so that the next prediction traces the heads with their temperatures."""
    from tfmm.calibration import calibration_report, fit_temperature, with_temperature

    for o in outputs:
        head = model.get_layer(f"head_{o.name}")
        fitted = fit_temperature(preds[o.name], targets[o.name], o.type)
        before = calibration_report(preds[o.name], targets[o.name], o.type)
        preds[o.name] = with_temperature(preds[o.name], fitted, o.type)
        after = calibration_report(preds[o.name], targets[o.name], o.type)
        # Relative to the head's own temperature (1 unless a resumed run had fitted one).
        o.temperature = head.temperature * fitted
        head.temperature = o.temperature
        log(
            f"tfmm train: output {o.name!r}: temperature {o.temperature:.4g} (the lowest "
            f"NLL on the validation split: ECE {before['ece']:.4f} -> {after['ece']:.4f}, "
            f"NLL {before['nll']:.4f} -> {after['nll']:.4f})"
        )
    if outputs:
        model.predict_function = model.test_function = model.train_function = None


def _resolve_thresholds(model, outputs, preds, targets, log):
    """Each binary output's decision threshold with the best macro-F1 on the validation
    probabilities `preds`."""
    from tfmm.outputs import choose_threshold

    for o in outputs:
        o.threshold = choose_threshold(preds[o.name], targets[o.name])
        model.get_layer(f"head_{o.name}").threshold = o.threshold
        log(
            f"tfmm train: output {o.name!r}: decision threshold {o.threshold:.4g} (the "
            f"best macro-F1 on the validation split)"
        )


def _clean_up(run, num_phases):
    """The phases' hand-over weights and the emptied backup folder, once the run is done."""
    if num_phases > 1:
        for k in range(num_phases):
            if os.path.exists(run.phase_done(k + 1)):
                os.remove(run.phase_done(k + 1))
        if os.path.isdir(run.backup) and not os.listdir(run.backup):
            os.rmdir(run.backup)


def _restore_best(model, run_dir, epochs, log):
    """Loads the best epoch's weights (`best.keras`) into `model`, and says so."""
    run = RunDir(run_dir)
    best_path, meta_path = run.best, run.best_json
    if not (os.path.exists(best_path) and os.path.exists(meta_path)):
        log(
            "tfmm train: no best epoch was recorded (the monitored value never came); "
            "model.keras holds the last epoch"
        )
        return
    with open(meta_path) as f:
        best = json.load(f)
    if best["epoch"] != epochs:
        model.load_weights(best_path)
    log(
        f"tfmm train: model.keras holds epoch {best['epoch']} of {epochs}, "
        f"{kept_epoch_reason(best)}; set training.restore_best: false for the last epoch"
    )
