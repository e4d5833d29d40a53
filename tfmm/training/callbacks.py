"""Callbacks of a tfmm run."""

import os

import keras


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
            self.message = (f"training stopped: loss became {float(loss)} at epoch "
                            f"{self._epoch + 1}, batch {batch + 1}. Lower "
                            f"training.learning_rate, check the targets for NaN, or disable "
                            f"mixed precision.")
            print(f"\ntfmm: {self.message}")
            self.model.stop_training = True


def build_callbacks(config, run_dir):
    t = config.training
    monitor = t.monitor if config.data.val else t.monitor.replace("val_", "")
    mode = "max" if any(k in monitor for k in ("accuracy", "auc", "f1")) else "min"
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"),
                                         save_freq="epoch", delete_checkpoint=True),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "best.keras"), monitor=monitor,
                                        mode=mode, save_best_only=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
        TerminateOnNaNWithMessage(),
    ]
    if t.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode,
                                                       patience=t.early_stopping_patience,
                                                       restore_best_weights=True))
    if t.reduce_lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode,
                                                           patience=t.reduce_lr_patience))
    return callbacks
