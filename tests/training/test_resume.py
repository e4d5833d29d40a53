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
    config = write_tiny_train_config(tmp_path, train_data, epochs=4,
                                     training={"steps_per_epoch": 40}, data={"batch_size": 2})
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tfmm.cli", "train", config, "--out", str(run)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
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
    assert f"resuming from the backup in {run / 'backup'} after epoch {state['epoch']}" \
        in second.stdout
    with open(run / "history.csv") as f:
        epochs = [int(r["epoch"]) for r in csv.DictReader(f)]
    # Each epoch once (the resumed run starts after the last backed-up one), 4 in all.
    assert epochs == [0, 1, 2, 3]
    assert (run / "model.keras").exists() and not (run / "backup").exists()

    # The same command on a finished run refuses instead of training again on top of it.
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 2 and "holds a finished run" in third.stderr
