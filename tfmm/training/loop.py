"""`tfmm train`, `evaluate` and `predict`: model.fit and nothing clever."""

import csv
import json
import os

import keras
import numpy as np
import yaml

from tfmm.config import config_from_dict
from tfmm.data import Manifest, fit_preprocessing, make_dataset, vocabularies_from_model
from tfmm.data.pipeline import load_manifest
from tfmm.models import build_model, compile_model
from tfmm.training.callbacks import TerminateOnNaNWithMessage, build_callbacks
from tfmm.training.metrics import classification_report
from tfmm.training.strategy import describe, get_strategy


class TrainingError(RuntimeError):
    """Training could not finish (for example, the loss became NaN)."""


def _optimizer(config, steps_per_epoch):
    t = config.training
    lr = t.learning_rate
    if t.lr_schedule == "cosine" and steps_per_epoch:
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=t.epochs * steps_per_epoch)
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


def train(config, run_dir, log=print, verbose="auto"):
    """Trains the model of `config`, writing everything to `run_dir`.

    Started again with the same arguments after a kill, it resumes from the last finished
    epoch (`BackupAndRestore`). Writes: `config.yaml` (resolved, with labels),
    `vocabularies.json`, `best.keras`, `model.keras`, `history.csv`, `logs/`,
    `metrics.json` (test split, if any) and plots.

    Returns:
        (model, metrics dict).
    """
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.data.seed)
    strategy = get_strategy(config.training.strategy)
    policy = _set_precision(config, strategy)
    log(f"tfmm train: strategy {describe(strategy)}; precision {policy}")
    if config.data.train is None:
        raise ValueError("data.train: required to train (a manifest, TFRecord glob or tfds:)")
    train_src = config.resolve_path(config.data.train)
    train_manifest = Manifest(train_src)
    # Fail fast (or report what is skipped) before any model is built.
    load_manifest(config, train_manifest, report_dir=run_dir, log=log)
    vocabularies = fit_preprocessing(config, train_manifest)
    _save_run_state(config, vocabularies, run_dir)

    replicas = strategy.num_replicas_in_sync
    global_batch = config.data.batch_size * replicas
    log(f"tfmm train: global batch {global_batch} = {config.data.batch_size} per replica "
        f"x {replicas}")

    def dataset_fn(source, training):
        def fn(ctx):
            return make_dataset(config, source, vocabularies, training=training,
                                input_context=ctx, batch_size=global_batch,
                                report_dir=run_dir, repeat=training and bool(
                                    config.training.steps_per_epoch))
        return strategy.distribute_datasets_from_function(fn)

    train_ds = dataset_fn(config.data.train, True)
    val_ds = dataset_fn(config.data.val, False) if config.data.val else None
    steps = config.training.steps_per_epoch or max(len(train_manifest) // global_batch, 1)
    with strategy.scope():
        model = build_model(config, vocabularies)
        compile_model(model, config, optimizer=_optimizer(config, steps),
                      jit_compile=config.training.jit_compile)
    callbacks = build_callbacks(config, run_dir)
    model.fit(train_ds, validation_data=val_ds, epochs=config.training.epochs,
              steps_per_epoch=config.training.steps_per_epoch, callbacks=callbacks,
              verbose=verbose)
    nan = next(c for c in callbacks if isinstance(c, TerminateOnNaNWithMessage))
    if nan.message:
        raise TrainingError(nan.message)
    model.save(os.path.join(run_dir, "model.keras"))
    _plot_history(run_dir)
    metrics = {}
    if config.data.test:
        metrics = evaluate(model, config, config.data.test, vocabularies, run_dir=run_dir)
    with open(os.path.join(run_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    keras.mixed_precision.set_global_policy("float32")
    return model, metrics


def _save_run_state(config, vocabularies, run_dir):
    with open(os.path.join(run_dir, "config.yaml"), "w") as f:
        yaml.safe_dump(config.to_dict(), f, sort_keys=False)
    with open(os.path.join(run_dir, "vocabularies.json"), "w") as f:
        json.dump(vocabularies, f)


def load_run(path):
    """(model, config, vocabularies) from a run directory or a `.keras` file beside its
    `config.yaml`."""
    run_dir = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    model_path = os.path.join(path, "model.keras") if os.path.isdir(path) else path
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"no model.keras in {path!r} (is it a finished run?)")
    config_path = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"no config.yaml beside {model_path!r}")
    with open(config_path) as f:
        config = config_from_dict(yaml.safe_load(f), source=config_path)
    config.base_dir = run_dir
    model = keras.saving.load_model(model_path, safe_mode=True)
    return model, config, vocabularies_from_model(model)


def _predict(model, config, source, vocabularies, with_labels):
    ds = make_dataset(config, source, vocabularies, with_labels=with_labels)
    xs = ds.map(lambda x, y: x) if with_labels else ds
    preds = model.predict(xs, verbose=0)
    targets = None
    if with_labels:
        targets = {o.name: np.concatenate([y[o.name].numpy() for _, y in ds])
                   for o in config.outputs}
    return preds, targets


def evaluate(model, config, source, vocabularies, run_dir=None):
    """Metrics per output on a labelled source; writes confusion matrix PNGs to run_dir."""
    preds, targets = _predict(model, config, source, vocabularies, with_labels=True)
    out = {}
    for o in config.outputs:
        p, t = np.asarray(preds[o.name]), targets[o.name]
        if o.type == "multiclass":
            out[o.name] = classification_report(t, p, o.labels)
            if run_dir:
                _plot_confusion(out[o.name], os.path.join(run_dir, "confusion_matrix.png"
                                                          if len(config.outputs) == 1 else
                                                          f"confusion_matrix_{o.name}.png"))
        elif o.type == "binary":
            two = np.concatenate([1 - p, p], -1)
            out[o.name] = classification_report(t.reshape(-1).astype(int), two, o.labels)
        elif o.type == "multilabel":
            out[o.name] = {"accuracy": float(((p > 0.5) == (t > 0.5)).mean()), "n": len(t)}
        else:
            out[o.name] = {"mae": float(np.abs(p - t).mean()),
                           "rmse": float(np.sqrt(((p - t) ** 2).mean())), "n": len(t)}
    return out


def predict(model, config, source, vocabularies, out_csv=None):
    """Label strings (or values) and probabilities per row of `source`."""
    preds, _ = _predict(model, config, source, vocabularies, with_labels=False)
    rows = []
    n = len(next(iter(preds.values())))
    for k in range(n):
        row = {"row": k + 1}
        for o in config.outputs:
            p = np.asarray(preds[o.name])[k]
            if o.type == "multiclass":
                row[o.name] = o.labels[int(p.argmax())]
                row.update({f"{o.name}_p_{lab}": float(v) for lab, v in zip(o.labels, p)})
            elif o.type == "binary":
                row[o.name] = o.labels[int(p[0] > 0.5)]
                row[f"{o.name}_p_{o.labels[1]}"] = float(p[0])
            elif o.type == "multilabel":
                row[o.name] = o.label_separator.join(
                    lab for lab, v in zip(o.labels, p) if v > 0.5)
            else:
                row[o.name] = o.label_separator.join(f"{v:.6g}" for v in p)
        rows.append(row)
    if out_csv:
        with open(out_csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return rows


def _plot_history(run_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keys = [k for k in rows[0] if k != "epoch" and not k.endswith("learning_rate")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for k in keys:
        ax = axes[0] if "loss" in k else axes[1]
        ax.plot([float(r[k]) for r in rows], label=k)
    for ax, title in zip(axes, ("loss", "metrics")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(run_dir, "learning_curves.png"), dpi=80)
    plt.close(fig)


def _plot_confusion(report, path):
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
    ax.set_title(f"accuracy {report['accuracy']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
