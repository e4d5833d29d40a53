"""A run killed with SIGKILL mid-epoch resumes from its backup with the same command."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import pytest

from tests.helpers import write_tiny_train_config


def _epochs_done(run):
    try:
        with open(run / "history.csv") as f:
            return len(list(csv.DictReader(f)))
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_sigkill_mid_epoch_then_same_command_resumes_and_finishes(train_data, tmp_path):
    # Many small steps per epoch, so that the kill lands inside an epoch.
    config = write_tiny_train_config(
        tmp_path, train_data, epochs=4, training={"steps_per_epoch": 40}, data={"batch_size": 2}
    )
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tfmm.cli", "train", config, "--out", str(run)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.time() + 240
    while _epochs_done(run) < 2 and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 3
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert first.returncode == -signal.SIGKILL
    killed_after = _epochs_done(run)
    assert 2 <= killed_after < 4, "the kill must land before the run finished"
    assert not (run / "model.keras").exists()

    # What is on disk is whole: the state names a complete weights file; no file that a
    # write was interrupted in is ever named.
    state = json.loads((run / "backup" / "state.json").read_text())
    assert state["epoch"] >= 2 and not state["weights"].startswith("tmp-")
    with h5py.File(run / "backup" / state["weights"], "r") as f:
        assert len(f.keys()) > 0

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (
        f"resuming from the backup in {run / 'backup'} after epoch {state['epoch']}"
        in second.stdout
    )
    with open(run / "history.csv") as f:
        epochs = [int(r["epoch"]) for r in csv.DictReader(f)]
    # Each epoch once (the resumed run starts after the last backed-up one), 4 in all.
    assert epochs == [0, 1, 2, 3]
    assert (run / "model.keras").exists() and not (run / "backup").exists()

    # The same command on a finished run refuses instead of training again on top of it.
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 2 and "holds a finished run" in third.stderr


class _Killed(Exception):
    pass


def test_interrupted_run_resumes_in_process_at_the_right_epoch(train_data, tmp_path, monkeypatch):
    # Fast twin of the SIGKILL test: the run dies after epoch 2's backup, the same call
    # resumes. The resumed fit must start from exactly the weights and optimizer state
    # the backup holds (epoch 3, not one late or early) and continue one history.
    import keras
    import numpy as np

    import tfmm
    from tests.helpers import tiny_demo_dict
    from tfmm.training import loop

    cfg = tiny_demo_dict(train_data, modalities=("text", "audio"), epochs=3)
    cfg["training"]["restore_best"] = False
    seen = {}

    class Probe(keras.callbacks.Callback):
        def __init__(self, kill_after):
            super().__init__()
            self.kill_after = kill_after

        def on_train_begin(self, logs=None):
            seen.setdefault("begin", []).append(
                (
                    [w.copy() for w in self.model.get_weights()],
                    int(self.model.optimizer.iterations.numpy()),
                )
            )

        def on_epoch_end(self, epoch, logs=None):
            seen.setdefault("epochs", []).append(epoch)
            if epoch == self.kill_after:
                seen["at_kill"] = (
                    [w.copy() for w in self.model.get_weights()],
                    int(self.model.optimizer.iterations.numpy()),
                )
                raise _Killed()

    original = loop.build_callbacks

    def with_probe(kill_after):
        def build(*args, **kwargs):
            return original(*args, **kwargs) + [Probe(kill_after)]

        return build

    run = str(tmp_path / "run")
    monkeypatch.setattr(loop, "build_callbacks", with_probe(kill_after=1))
    with pytest.raises(_Killed):
        tfmm.training.train(tfmm.config_from_dict(cfg), run, log=lambda *a: None, verbose=0)
    assert not os.path.exists(os.path.join(run, "model.keras"))
    monkeypatch.setattr(loop, "build_callbacks", with_probe(kill_after=None))
    lines = []
    tfmm.training.train(tfmm.config_from_dict(cfg), run, log=lines.append, verbose=0)

    assert seen["epochs"] == [0, 1, 2]  # epoch 3 (index 2) once, after the resume
    assert any("after epoch 2" in line for line in lines), lines
    weights, iterations = seen["begin"][1]
    kill_weights, kill_iterations = seen["at_kill"]
    assert iterations == kill_iterations > 0
    for a, b in zip(weights, kill_weights):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(run, "history.csv")) as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2]


def test_a_kill_during_the_final_save_resumes_without_losing_an_epoch(
    train_data, tmp_path, monkeypatch
):
    # The final model.keras is written through a temporary file, and the last epoch's
    # backup stays until it is whole: a kill mid-save leaves no model.keras (never a
    # truncated one), and the same command then finishes from the backup, training no
    # epoch again.
    import keras
    import numpy as np

    import tfmm
    from tests.helpers import tiny_demo_dict
    from tfmm.training import callbacks, loop

    cfg = tiny_demo_dict(train_data, modalities=("text", "audio"), epochs=2)
    run = tmp_path / "run"
    real = callbacks.save_model_atomically

    def killed_mid_write(model, path):
        with open(path[: -len(".keras")] + ".tmp.keras", "wb") as f:
            f.write(b"PK\x03\x04 half a zip")  # what a kill leaves behind
        raise _Killed()

    monkeypatch.setattr(loop, "save_model_atomically", killed_mid_write)
    with pytest.raises(_Killed):
        tfmm.training.train(tfmm.config_from_dict(cfg), str(run), log=lambda *a: None, verbose=0)
    assert not (run / "model.keras").exists()
    state = json.loads((run / "backup" / "state.json").read_text())
    assert state["epoch"] == 2

    monkeypatch.setattr(loop, "save_model_atomically", real)
    logs = []
    model, metrics = tfmm.training.train(
        tfmm.config_from_dict(cfg), str(run), log=logs.append, verbose=0
    )
    assert any("resuming from the backup" in line and "after epoch 2" in line for line in logs), (
        logs
    )
    with open(run / "history.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1"]
    reloaded = keras.saving.load_model(str(run / "model.keras"), safe_mode=True)
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (run / "backup").exists() and not (run / "model.tmp.keras").exists()
    assert "accuracy" in metrics["label"]


def test_a_second_train_on_the_same_run_directory_is_refused(train_data, tmp_path):
    import tfmm
    from tests.helpers import tiny_demo_dict
    from tfmm.training.setup import run_lock

    cfg = tiny_demo_dict(train_data, modalities=("text", "audio"), epochs=1)
    run = tmp_path / "run"
    run.mkdir()
    with run_lock(str(run)):  # what a running `tfmm train` holds
        with pytest.raises(
            RuntimeError,
            match=rf"run directory '.*run' is in use by another "
            rf"tfmm process \(pid {os.getpid()}\)",
        ):
            tfmm.training.train(
                tfmm.config_from_dict(cfg), str(run), log=lambda *a: None, verbose=0
            )
        assert sorted(os.listdir(run)) == [".lock"]  # nothing of the run was written
    with run_lock(str(run)):  # released with its holder
        pass
