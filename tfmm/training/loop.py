"""`tfmm train`, `evaluate` and `predict`: model.fit and nothing clever."""

import contextlib
import csv
import json
import os
import shutil
import sys

import keras
import numpy as np
import tensorflow as tf

from tfmm.data import Manifest, fit_preprocessing, make_dataset
from tfmm.data.pipeline import load_manifest, source_kind
from tfmm._keras_compat import build_from_spec, keras_multiworker_fixes
from tfmm.files import RunDir
from tfmm.predictions import kept_columns, prediction_rows
from tfmm.models import build_model, compile_model
from tfmm.training.callbacks import build_callbacks, nan_message, save_model_atomically
from tfmm.outputs import output_type
from tfmm.training.schedules import LinearWarmup, warmup_epochs
from tfmm.training.strategy import describe, get_strategy, is_multiworker


class TrainingError(RuntimeError):
    """Training could not finish (for example, the loss became NaN)."""


def _optimizer(config, steps_per_epoch, learning_rate=None, epochs=None, warmup=True):
    t = config.training
    lr = learning_rate or t.learning_rate
    total = (epochs or t.epochs) * (steps_per_epoch or 0)
    warmup_steps = int(round(warmup_epochs(config) * (steps_per_epoch or 0))) if warmup \
        else 0
    if t.lr_schedule == "cosine" and total:
        lr = keras.optimizers.schedules.CosineDecay(
            lr / warmup_steps if warmup_steps else lr, decay_steps=max(total - warmup_steps, 1),
            warmup_target=lr if warmup_steps else None, warmup_steps=warmup_steps)
    elif warmup_steps:
        lr = LinearWarmup(lr, warmup_steps)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    return keras.optimizers.SGD(lr, momentum=0.9)


def _set_precision(config, strategy):
    import tensorflow as tf

    if not config.training.mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    on_gpu = bool(tf.config.list_logical_devices("GPU")) and \
        not isinstance(strategy, tf.distribute.TPUStrategy)
    policy = "mixed_float16" if on_gpu else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def pretrained_encoders(config):
    """Names of the encoder sublayers that start from pretrained weights and may train:
    resnet50 with `weights`, bert with a `preset`, hub models marked trainable, and the
    encoders that `training.init_from` provides."""
    from tfmm.pretraining.weights import ENCODERS_DIR

    init = config.resolve_path(config.training.init_from)
    names = []
    for i in config.inputs:
        e = i.encoder
        from_run = bool(init) and (
            os.path.exists(os.path.join(init, ENCODERS_DIR, f"{i.name}.weights.npz"))
            or not os.path.isdir(os.path.join(init, ENCODERS_DIR)))
        pretrained = e.pretrained or from_run
        if pretrained and getattr(e, "trainable", True):
            names.append(f"{i.name}_encoder")
    return names


def _phases(config, log):
    """[(first_epoch, end_epoch, learning_rate, frozen encoder names)] of the run."""
    t = config.training
    if not t.freeze_pretrained_epochs:
        return [(0, t.epochs, t.learning_rate, [])]
    frozen = pretrained_encoders(config)
    if not frozen:
        log("tfmm train: training.freeze_pretrained_epochs is set but no encoder has "
            "pretrained weights; training everything from the start")
        return [(0, t.epochs, t.learning_rate, [])]
    n = t.freeze_pretrained_epochs
    finetune_lr = t.finetune_learning_rate or t.learning_rate / 10
    phases = [(0, n, t.learning_rate, frozen)]
    if n < t.epochs:
        phases.append((n, t.epochs, finetune_lr, []))
    return phases


def _eval_plan(config, source, global_batch, strategy):
    """(steps, repeat) for a validation set.

    On one worker the set is read once per epoch, to its end. With several workers each
    reads its own shard, and all must run the same number of steps (a worker that runs
    out first leaves the others waiting in a collective), so the set is read repeated, in
    `rows // global_batch` full steps (at least one).
    """
    if not is_multiworker(strategy):
        return None, False
    if source_kind(config.resolve_path(source)) != "manifest":
        raise ValueError(f"data.val: under the multiworker strategy the validation split "
                         f"must be a manifest (its length sets the steps). Received: "
                         f"{source!r}")
    rows = len(Manifest(config.resolve_path(source)))
    return max(rows // global_batch, 1), True


def _worker_run_dir(strategy, run_dir):
    """(run_dir for this process, is_chief). Under MultiWorkerMirroredStrategy every worker
    trains, but only the chief writes the run directory; the others keep their backups and
    files in `run_dir/worker-N` so that no two processes write one file."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type or strategy.extended.should_checkpoint:
        return run_dir, True
    return os.path.join(run_dir, f"{resolver.task_type}-{resolver.task_id}"), False


def train(config, run_dir, log=print, verbose="auto"):
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
    if verbose == "auto":
        # A redrawn progress bar on a terminal; one line per epoch in a log file.
        verbose = 1 if sys.stdout.isatty() else 2
    if RunDir(run_dir).is_finished():
        raise FileExistsError(f"run directory {run_dir!r} holds a finished run (model.keras); "
                              f"give another --out, or delete it to train again")
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.data.seed)
    strategy = get_strategy(config.training.strategy)
    run_dir, is_chief = _worker_run_dir(strategy, run_dir)
    os.makedirs(run_dir, exist_ok=True)
    with run_lock(run_dir):
        return _train(config, run_dir, strategy, is_chief, log, verbose)


@contextlib.contextmanager
def run_lock(run_dir):
    """Holds `run_dir/.lock` (an exclusive `flock`) for as long as a process trains in
    it: a second `tfmm train` on the same run directory is refused, naming the first's
    PID, instead of both writing the same files. The kernel releases the lock when its
    process dies, so a killed run never leaves a stale lock."""
    import fcntl

    path = os.path.join(run_dir, ".lock")
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RuntimeError(f"run directory {run_dir!r} is in use by another tfmm process "
                           f"(pid {holder}); wait for it, or give another --out") from None
    try:
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        f.close()


def _train(config, run_dir, strategy, is_chief, log, verbose):
    run = RunDir(run_dir)
    policy = _set_precision(config, strategy)
    log(f"tfmm train: strategy {describe(strategy)}; precision {policy}")
    if config.data.train is None:
        raise ValueError("data.train: required to train (a manifest, TFRecord glob or tfds:)")
    train_src = config.resolve_path(config.data.train)
    train_manifest = Manifest(train_src)
    # Fail fast (or report what is skipped) before any model is built; the rows kept are
    # what the datasets read, so each manifest is checked (and reported) once.
    train_columns = load_manifest(config, train_manifest, report_dir=run_dir, log=log)
    train_rows = len(next(iter(train_columns.values())))
    vocabularies = fit_preprocessing(config, train_manifest)
    init_from = config.resolve_path(config.training.init_from)
    if init_from:
        # A pretrained TextCNN's embedding rows belong to its own vocabulary.
        for name, vocab in RunDir(init_from).read_vocabularies().items():
            if name in vocabularies and \
                    config.input(name).encoder.vocabulary_source == "adapted":
                vocabularies[name] = vocab
    run.write_config(config, vocabularies)

    replicas = strategy.num_replicas_in_sync
    global_batch = config.data.batch_size * replicas
    log(f"tfmm train: global batch {global_batch} = {config.data.batch_size} per replica "
        f"x {replicas}")

    def dataset_fn(source, training):
        repeat = training or val_repeat

        def fn(ctx):
            return make_dataset(config, source, vocabularies, training=training,
                                input_context=ctx, batch_size=global_batch,
                                report_dir=run_dir, repeat=repeat)
        return strategy.distribute_datasets_from_function(fn)

    val_steps, val_repeat = _eval_plan(config, config.data.val, global_batch, strategy) \
        if config.data.val else (None, False)
    train_ds = dataset_fn(train_columns, True)
    val_ds = None
    if config.data.val:
        val_src = config.resolve_path(config.data.val)
        val_ds = dataset_fn(load_manifest(config, val_src, report_dir=run_dir, log=log)
                            if source_kind(val_src) == "manifest" else val_src, False)
    # Always a known number of steps over a repeated dataset: when Keras finds the end of
    # a distributed dataset by running out of it, it runs one more (empty) step, and
    # Adam's momentum moves the weights on an empty batch.
    steps = config.training.steps_per_epoch or max(train_rows // global_batch, 1)
    phases = _phases(config, log)
    pretrained = pretrained_encoders(config)
    with strategy.scope():
        model = build_model(config, vocabularies)
    if init_from:
        from tfmm.pretraining.weights import initialise_from

        initialise_from(model, config, init_from, log=log)
    for k, (first, end, lr, frozen) in enumerate(phases):
        done, backup = run.phase_done(k + 1), run.phase_backup(k + 1, len(phases))
        for name in pretrained:
            model.get_layer(name).trainable = name not in frozen
        with strategy.scope():
            compile_model(model, config,
                          optimizer=_optimizer(config, steps, lr, end - first, warmup=k == 0),
                          jit_compile=config.training.jit_compile)
            if strategy.num_replicas_in_sync > 1:
                build_from_spec(model, train_ds.element_spec)
        if os.path.exists(done):
            log(f"tfmm train: phase {k + 1} already finished; its weights are in {done}")
            continue
        if k > 0:
            # Through a bare model over the same layers, as it was saved (no optimizer).
            keras.Model(model.inputs, model.outputs).load_weights(run.phase_done(k))
        if len(phases) > 1 or frozen:
            log(f"tfmm train: phase {k + 1}/{len(phases)}: epochs {first + 1}-{end} at "
                f"learning rate {lr:g}" + (f", frozen: {', '.join(frozen)}" if frozen else
                                           ", all encoders trainable"))
        last = k == len(phases) - 1
        callbacks = build_callbacks(config, run_dir, backup_dir=backup, log=log,
                                    done_path=None if last else done, keep_backup=last)
        with keras_multiworker_fixes(strategy):
            model.fit(train_ds, validation_data=val_ds, epochs=end, initial_epoch=first,
                      steps_per_epoch=steps, validation_steps=val_steps,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
        if nan_message(callbacks):
            raise TrainingError(nan_message(callbacks))
    if config.training.restore_best:
        _restore_best(model, run.path, config.training.epochs, log)
    # The commit point of the run: until model.keras is whole, the last epoch's backup
    # stays, so a kill here resumes from it (and runs no epoch again).
    save_model_atomically(model, run.model)
    shutil.rmtree(run.backup, ignore_errors=True)
    _plot_history(run_dir)
    metrics = {}
    if is_multiworker(strategy):
        # The test split is evaluated by the chief alone, on a copy of the model outside
        # the strategy: prediction under it would need every worker in step.
        model = keras.saving.load_model(run.model, safe_mode=True)
    if config.data.test and is_chief:
        metrics = evaluate(model, config, config.resolve_path(config.data.test), vocabularies,
                           run_dir=run_dir,
                           split="the test split (data.test)")
    run.write_metrics(metrics)
    if len(phases) > 1:
        for k in range(len(phases)):
            if os.path.exists(run.phase_done(k + 1)):
                os.remove(run.phase_done(k + 1))
        if os.path.isdir(run.backup) and not os.listdir(run.backup):
            os.rmdir(run.backup)
    keras.mixed_precision.set_global_policy("float32")
    return model, metrics


def _restore_best(model, run_dir, epochs, log):
    """Loads the best epoch's weights (`best.keras`) into `model`, and says so."""
    run = RunDir(run_dir)
    best_path, meta_path = run.best, run.best_json
    if not (os.path.exists(best_path) and os.path.exists(meta_path)):
        log("tfmm train: no best epoch was recorded (the monitored value never came); "
            "model.keras holds the last epoch")
        return
    with open(meta_path) as f:
        best = json.load(f)
    if best["epoch"] != epochs:
        model.load_weights(best_path)
    log(f"tfmm train: model.keras holds epoch {best['epoch']} of {epochs}, the best "
        f"{best['monitor']} ({best['value']:.4g}); set training.restore_best: false "
        f"for the last epoch")


def load_run(path):
    """(model, config, vocabularies) from a run directory or a `.keras` file beside its
    `config.yaml`."""
    return RunDir.load(path)


def _user_path(source):
    # A path given to evaluate/predict is the caller's: relative to the working
    # directory, not to the run directory the config was loaded from.
    return source if str(source).startswith("tfds:") else os.path.abspath(source)


def _features_only(x, y):
    return x


def _predict(model, config, source, vocabularies, with_labels):
    ds = make_dataset(config, _user_path(source), vocabularies, with_labels=with_labels)
    xs = ds.map(_features_only) if with_labels else ds
    preds = model.predict(xs, verbose=0)
    targets = None
    if with_labels:
        targets = {o.name: np.concatenate([y[o.name].numpy() for _, y in ds])
                   for o in config.outputs}
    return preds, targets


def evaluate(model, config, source, vocabularies, run_dir=None, split=None):
    """Metrics per output on a labelled source; writes confusion matrix PNGs, titled
    with `split` (default: the source's file name), to `run_dir`."""
    preds, targets = _predict(model, config, source, vocabularies, with_labels=True)
    split = split or os.path.splitext(os.path.basename(str(source)))[0]
    return _reports(config, preds, targets, run_dir, split)


def evaluate_missing(model, config, source, vocabularies):
    """The metrics with every modality present, then with each one removed in turn
    (its presence 0, as a missing optional input): [(removed input name or None,
    metrics per output)].

    Works for any run: the model is rebuilt with every input optional (presence flags
    add no weights) and takes the run's weights by variable path.
    """
    import copy

    twin_config = copy.deepcopy(config)
    for i in twin_config.inputs:
        i.optional = True
    twin = build_model(twin_config, vocabularies)
    source_vars = {v.path: v for v in model.weights}
    for v in twin.weights:
        if v.path in source_vars:
            v.assign(source_vars[v.path])
        elif v.trainable:
            raise ValueError(f"evaluate --missing: the rebuilt model has a weight "
                             f"{v.path!r} that the run's model lacks")
    ds = make_dataset(twin_config, _user_path(source), vocabularies, with_labels=True)
    targets = {o.name: np.concatenate([y[o.name].numpy() for _, y in ds])
               for o in config.outputs}
    rows = []
    for removed in [None] + [i.name for i in config.inputs]:
        def drop(x, y, removed=removed):
            x = dict(x)
            if removed is not None:
                x[f"{removed}_present"] = tf.zeros_like(x[f"{removed}_present"])
            return x
        preds = twin.predict(ds.map(drop), verbose=0)
        rows.append((removed, _reports(config, preds, targets, None, None)))
    return rows


def _reports(config, preds, targets, run_dir, split):
    out = {}
    for o in config.outputs:
        p, t = np.asarray(preds[o.name]), targets[o.name]
        kind = output_type(o)
        out[o.name] = kind.report(o, p, t)
        if run_dir and kind.plots_confusion:
            _plot_confusion(out[o.name], os.path.join(run_dir, "confusion_matrix.png"
                                                      if len(config.outputs) == 1 else
                                                      f"confusion_matrix_{o.name}.png"),
                            title=f"{o.name} on {split}")
    return out


def evaluation_dir(run_dir, manifest):
    """A new folder for `tfmm evaluate`'s report inside the run: `eval-STEM`, or
    `eval-STEM-2`, ... so that no earlier report (nor the training-time files) is
    overwritten."""
    stem = os.path.splitext(os.path.basename(manifest))[0]
    base = os.path.join(run_dir, f"eval-{stem}")
    path, k = base, 1
    while os.path.exists(path):
        k += 1
        path = f"{base}-{k}"
    return path


def predict(model, config, source, vocabularies, out_csv=None, keep_columns=()):
    """Label strings (or values) and probabilities per row of the manifest `source` (and
    the gated fusion's modality weights), with the manifest's `keep_columns` (an id)
    carried through."""
    from tfmm.models import inspection_model

    source = _user_path(source)
    columns, row_numbers = load_manifest(config, source,
                                         with_labels=False, with_row_numbers=True)
    ds = make_dataset(config, columns, vocabularies, with_labels=False)
    preds = inspection_model(model).predict(ds, verbose=0)
    return prediction_rows(config, preds, out_csv,
                           row_numbers=row_numbers,
                           kept=kept_columns(source, keep_columns,
                                             row_numbers))


def history_series(run_dir):
    """(epochs numbered from 1 as the console counts them, {metric: values per epoch},
    best) from a run's `history.csv`; `best` is `best.json` ({"epoch", "monitor",
    "value"}: the epoch `best.keras` holds) or None. ([], {}, None) without a history."""
    run = RunDir(run_dir)
    path = run.history
    if not os.path.exists(path):
        return [], {}, None
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return [], {}, None
    epochs = [int(r["epoch"]) + 1 for r in rows]
    keys = [k for k in rows[0] if k != "epoch" and not k.endswith("learning_rate")]
    series = {k: [float(r[k]) for r in rows] for k in keys}
    best = None
    if os.path.exists(run.best_json):
        with open(run.best_json) as f:
            best = json.load(f)
    return epochs, series, best


def _plot_history(run_dir):
    """learning_curves.png: losses and metrics per epoch of both splits, the epoch
    `best.keras` holds marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs, series, best = history_series(run_dir)
    if not epochs:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for k, values in series.items():
        ax = axes[0] if "loss" in k else axes[1]
        split = "validation" if k.startswith("val_") else "training"
        ax.plot(epochs, values, marker=".", label=f"{k} ({split})")
    for ax, title in zip(axes, ("loss", "metrics")):
        if best:
            ax.axvline(best["epoch"], color="grey", linestyle="--",
                       label=f"best epoch {best['epoch']} ({best['monitor']})")
        ax.set_title(f"{title}: training and validation splits")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(run_dir, "learning_curves.png"), dpi=80)
    plt.close(fig)


def _plot_confusion(report, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.array(report["confusion"])
    labels = report["labels"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(labels), 1 + 0.6 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: accuracy {report['accuracy']:.3f}".lstrip(": "), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
