"""A run's reports: metrics per output with confusion matrices, and learning curves."""

import csv
import json
import os

import numpy as np

from tfmm.files import RunDir
from tfmm.outputs import output_type


def reports(config, preds, targets, run_dir, split):
    """{output name: its output type's report} of predictions against targets; with
    `run_dir`, the confusion matrices of the classification outputs are drawn there,
    titled with `split`."""
    out = {}
    for o in config.outputs:
        p, t = np.asarray(preds[o.name]), targets[o.name]
        kind = output_type(o)
        out[o.name] = kind.report(o, p, t)
        if run_dir and "calibration" in out[o.name]:
            suffix = "" if len(config.outputs) == 1 else f"_{o.name}"
            plot_reliability(
                p,
                t,
                o,
                os.path.join(run_dir, f"reliability{suffix}.png"),
                title=f"{o.name} on {split}",
            )
        if run_dir and kind.plots_confusion:
            plot_confusion(
                out[o.name],
                os.path.join(
                    run_dir,
                    "confusion_matrix.png"
                    if len(config.outputs) == 1
                    else f"confusion_matrix_{o.name}.png",
                ),
                title=f"{o.name} on {split}",
            )
    return out


def _number(cell):
    try:
        return float(cell)
    except (TypeError, ValueError):
        return float("nan")


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
    # Keras's CSVLogger writes "NA" where an epoch lacks a key the first epoch had.
    series = {k: [_number(r.get(k)) for r in rows] for k in keys}
    best = None
    if os.path.exists(run.best_json):
        with open(run.best_json) as f:
            best = json.load(f)
    return epochs, series, best


_SAID = []


def _plotting(what):
    """Whether matplotlib is installed; without it, says once that plots are skipped."""
    from tfmm import _log
    from tfmm._extras import MissingExtra, require

    try:
        require("matplotlib", "plots")
        return True
    except MissingExtra as e:
        if not _SAID:
            _SAID.append(what)
            _log.info(f"tfmm: no {what} (nor other plots): {e}")
        return False


def plot_history(run_dir):
    """learning_curves.png: losses and metrics per epoch of both splits, the epoch
    `best.keras` holds marked. Without matplotlib (`tfmm[plots]`) the run has no plots
    and says so once; nothing else changes."""
    if not _plotting("learning_curves.png"):
        return
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
            ax.axvline(
                best["epoch"],
                color="grey",
                linestyle="--",
                label=f"best epoch {best['epoch']} ({best['monitor']})",
            )
        ax.set_title(f"{title}: training and validation splits")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(run_dir, "learning_curves.png"), dpi=80)
    plt.close(fig)


def plot_reliability(probs, targets, o, path, title=""):
    """A reliability diagram: accuracy against confidence per 15 equal-width bins, of the
    head as served and (with a temperature) of the head before calibration."""
    if not _plotting(os.path.basename(path)):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfmm.calibration import expected_calibration_error, reliability, with_temperature

    curves = [("served", probs)]
    if o.temperature not in (None, 1.0):
        curves = [
            (f"temperature {o.temperature:.3g}", probs),
            ("before calibration", with_temperature(probs, 1.0 / o.temperature, o.type)),
        ]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, p in curves:
        points = reliability(p, targets, o.type)
        ece = expected_calibration_error(p, targets, o.type)
        ax.plot(
            [c for c, _, _ in points],
            [a for _, a, _ in points],
            marker="o",
            label=f"{name}: ECE {ece:.3f}",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_confusion(report, path, title=""):
    if not _plotting(os.path.basename(path)):
        return
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
