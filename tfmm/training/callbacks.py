"""Callbacks of a tfmm run."""

import glob
import json
import os

import keras
import numpy as np

from tfmm import _log
from tfmm._keras_compat import set_resume_epoch
from tfmm.files import RunDir, atomic_path, write_json
from tfmm.outputs import output_type
from tfmm.training.balance import GradientBlending


def save_model_atomically(model, path):
    """`model.save(path)` (a `.keras` file) through a temporary name in the same folder, so
    `path` is either absent, the old file or the whole new one — never half-written."""
    with atomic_path(path) as tmp:
        model.save(tmp, overwrite=True)


class Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup on disk is never half-written.

    Keras writes `latest.weights.h5` in place and then the epoch in a separate JSON file, so
    a kill during the write leaves a corrupt file, and a kill between the two leaves
    weights one epoch ahead of the metadata. Here each backup is written to its own file
    (`epoch-0003.weights.h5`, through a temporary name), and one small JSON file, replaced
    atomically, says which file is current: it is the single commit point.

    With `delete_checkpoint=False` the backup stays when fit ends: the last phase of a run
    keeps it until `model.keras` is committed, so a kill during that final save resumes
    from the last epoch instead of losing the run.
    """

    def __init__(self, backup_dir, log=None, done_path=None, delete_checkpoint=True):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=delete_checkpoint)
        # Where the weights go when fit finishes, before the backup is deleted (the
        # hand-over between the phases of a fine-tuning run).
        self._done_path = done_path
        self._state_path = os.path.join(backup_dir, "state.json")
        self._log = log
        self.resumed_from_epoch = None

    def _load_model(self):
        if not os.path.exists(self._state_path):
            return
        with open(self._state_path) as f:
            state = json.load(f)
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        set_resume_epoch(self.model, state["epoch"])
        self._current_epoch = state["epoch"]
        self.resumed_from_epoch = state["epoch"]
        if self._log:
            self._log(
                f"tfmm train: resuming from the backup in {self.backup_dir} after "
                f"epoch {state['epoch']}"
            )

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{self._current_epoch:04d}.weights.h5"
        with atomic_path(os.path.join(self.backup_dir, name)) as tmp:
            self.model.save_weights(tmp, overwrite=True)
        write_json(self._state_path, {"epoch": self._current_epoch, "weights": name})
        for old in glob.glob(os.path.join(self.backup_dir, "epoch-*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)

    def on_train_end(self, logs=None):
        loss = (logs or {}).get("loss")
        finite = loss is None or bool(np.isfinite(float(loss)))
        # A phase that ended on a NaN loss is not finished: nothing is handed over.
        if self._done_path and finite:
            save_weights_atomically(self.model, self._done_path)
        super().on_train_end(logs)


def save_weights_atomically(model, path):
    """The model's weights, without the optimizer's state, written through a temporary
    file so that `path` is either the old file or the whole new one."""
    # A bare functional model over the same layers: saves the layers' variables only.
    bare = keras.Model(model.inputs, model.outputs)
    with atomic_path(path) as tmp:
        bare.save_weights(tmp, overwrite=True)


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (`.keras`) when `monitor` improves, atomically.

    A tie on `monitor` (a validation accuracy of 1.0 reached again, common on a small
    validation split) is broken by `tie_breaker` (the loss): of the epochs that share the
    best value, the one with the lowest loss is kept, not the first. `best.json` beside
    the model says which epoch, its value, the tied epochs and the tie-breaker's value,
    so a resumed run only replaces the file with something better than what the killed
    run found.
    """

    def __init__(self, filepath, monitor="val_loss", mode="min", tie_breaker=None):
        super().__init__()
        self.filepath, self.monitor, self.mode = filepath, monitor, mode
        self.tie_breaker = tie_breaker if tie_breaker != monitor else None
        self._meta = os.path.splitext(filepath)[0] + ".json"
        self.best = None

    def on_train_begin(self, logs=None):
        if os.path.exists(self._meta) and os.path.exists(self.filepath):
            with open(self._meta) as f:
                meta = json.load(f)
            if meta.get("monitor") == self.monitor:
                self.best = meta

    def _better(self, value, tie_value):
        """Whether (value, tie_value) beats the best so far, and whether it ties it."""
        if self.best is None:
            return True, False
        best = self.best["value"]
        if value == best:
            kept = self.best.get("tie_value")
            return (
                self.tie_breaker is not None
                and tie_value is not None
                and (kept is None or tie_value < kept)
            ), True
        return (value < best if self.mode == "min" else value > best), False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        tie_value = logs.get(self.tie_breaker) if self.tie_breaker else None
        tie_value = float(tie_value) if tie_value is not None and np.isfinite(tie_value) else None
        better, tied = self._better(float(value), tie_value)
        if tied:
            tied_epochs = [*self.best.get("tied_epochs", [self.best["epoch"]]), epoch + 1]
        else:
            tied_epochs = [epoch + 1]
        if not better:
            if tied:  # the record of the epochs sharing the best value grows
                self.best = {**self.best, "tied_epochs": tied_epochs}
                write_json(self._meta, self.best)
            return
        save_model_atomically(self.model, self.filepath)
        self.best = {
            "monitor": self.monitor,
            "value": float(value),
            "epoch": epoch + 1,
            "tie_breaker": self.tie_breaker,
            "tie_value": tie_value,
            "tied_epochs": tied_epochs,
        }
        write_json(self._meta, self.best)


def kept_epoch_reason(best):
    """Why `best.json`'s epoch was kept, in words: the best value, and with a tie, the
    epochs that shared it and the tie-breaker that chose among them.

    Example:

    >>> kept_epoch_reason({"monitor": "acc", "value": 1.0, "epoch": 9, "tie_breaker":
    ...                    "loss", "tie_value": 0.0123, "tied_epochs": [4, 9, 11]})
    'the best acc (1); epochs 4, 9, 11 reached it, and epoch 9 had the lowest loss (0.0123)'
    """
    text = f"the best {best['monitor']} ({best['value']:.4g})"
    tied = best.get("tied_epochs") or [best["epoch"]]
    if len(tied) > 1 and best.get("tie_breaker") and best.get("tie_value") is not None:
        text += (
            f"; epochs {', '.join(map(str, tied))} reached it, and epoch "
            f"{best['epoch']} had the lowest {best['tie_breaker']} "
            f"({best['tie_value']:.4g})"
        )
    return text


class TerminateOnNaNWithMessage(keras.callbacks.Callback):
    """Stops training at the first NaN/inf loss and says where it happened."""

    def __init__(self):
        super().__init__()
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not float("-inf") < float(loss) < float("inf"):
            self.message = (
                f"training stopped: loss became {float(loss)} at epoch "
                f"{self._epoch + 1}, batch {batch + 1}. Lower "
                f"training.learning_rate, check the targets for NaN, or disable "
                f"mixed precision."
            )
            _log.warning(f"\ntfmm: {self.message}")
            self.model.stop_training = True


def nan_message(callbacks):
    """The message of the `TerminateOnNaNWithMessage` among `callbacks` if it stopped the
    run on a NaN loss, else None."""
    for c in callbacks:
        if isinstance(c, TerminateOnNaNWithMessage):
            return c.message
    return None


def resolve_monitor(config):
    """(`training.monitor` with "auto" resolved, "min" or "max").

    "auto" is the validation accuracy of the first multiclass or binary output, named as
    Keras logs it (`val_accuracy` for a model with one output, `val_NAME_accuracy` when
    it has several, auxiliary heads included), else `val_loss`. Without a validation
    split the training value of the same name is followed.

    Example:

    >>> import tfmm
    >>> config = tfmm.config_from_dict({
    ...     "inputs": [{"name": "text", "type": "text"}],
    ...     "outputs": [{"name": "label", "labels": ["a", "b"]}],
    ...     "data": {"val": "val.csv"}})
    >>> resolve_monitor(config)
    ('val_accuracy', 'max')
    """
    t = config.training
    monitor = t.monitor
    if monitor == "auto":
        monitor = "val_loss"
        heads = len(config.outputs) + len(config.auxiliary_outputs())
        for o in config.outputs:
            if output_type(o).monitors_accuracy:
                monitor = "val_accuracy" if heads == 1 else f"val_{o.name}_accuracy"
                break
    if not config.data.val:
        monitor = monitor.replace("val_", "", 1)
    mode = "max" if any(k in monitor for k in ("accuracy", "auc", "f1")) else "min"
    return monitor, mode


def build_callbacks(config, run_dir, backup_dir=None, log=None, done_path=None, keep_backup=False):
    t = config.training
    run = RunDir(run_dir)
    monitor, mode = resolve_monitor(config)
    callbacks = [
        Backup(
            backup_dir or run.backup,
            log=log,
            done_path=done_path,
            delete_checkpoint=not keep_backup,
        ),
        BestCheckpoint(
            run.best,
            monitor=monitor,
            mode=mode,
            tie_breaker="val_loss" if monitor.startswith("val_") else "loss",
        ),
        keras.callbacks.CSVLogger(run.history, append=True),
        keras.callbacks.TensorBoard(run.logs, write_graph=False),
        TerminateOnNaNWithMessage(),
    ]
    if config.fusion.balance == "gradient_blending":
        # Before the loggers, so that the history shows the weights it set.
        callbacks.insert(
            0, GradientBlending([a for a, _, _ in config.auxiliary_outputs()], log=log)
        )
    if t.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=t.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    if t.reduce_lr_patience:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, mode=mode, patience=t.reduce_lr_patience
            )
        )
    return callbacks
