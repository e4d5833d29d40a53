"""Training under tf.distribute: MirroredStrategy over 2 logical CPUs, and
MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1."""

import csv
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import tfmm
from tests.helpers import run_on_two_logical_cpus, write_tiny_train_config

MIRRORED_SCRIPT = """
import csv, json, logging, sys
import tfmm
# tfmm's messages (the `tfmm` logger) on stdout, as a script shows them.
logging.basicConfig(level="INFO", stream=sys.stdout, format="%(message)s")
config_path, out = sys.argv[1], sys.argv[2]
histories = {}
# Same data, same global batch (8): 8 x 1 replica, then 4 x 2 replicas.
for strategy, per_replica in (("default", 8), ("mirrored", 4)):
    config = tfmm.load_config(config_path, overrides=[
        f"training.strategy={strategy}", f"data.batch_size={per_replica}",
        "data.deterministic=true"])
    run = f"{out}/{strategy}"
    tfmm.training.train(config, run, verbose=0)
    with open(f"{run}/history.csv") as f:
        histories[strategy] = list(csv.DictReader(f))
print("RESULT " + json.dumps(histories))
"""


@pytest.mark.slow
def test_mirrored_two_cpus_reaches_the_same_loss_as_one_device(train_data, tmp_path):
    config = write_tiny_train_config(tmp_path, train_data, epochs=3)
    h, stdout = run_on_two_logical_cpus(MIRRORED_SCRIPT, [config, str(tmp_path)], tmp_path)
    assert "MirroredStrategy with 2 replica(s)" in stdout
    assert "global batch 8 = 4 per replica x 2" in stdout
    assert len(h["default"]) == len(h["mirrored"]) == 3
    # Same weights, same batches in the same order, gradients summed across replicas:
    # the losses agree to float32 round-off (stated tolerance: 1e-4 relative).
    for one, two in zip(h["default"], h["mirrored"]):
        for key in ("loss", "val_loss"):
            assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-4), key
    # ...and training did something.
    assert float(h["mirrored"][-1]["loss"]) < float(h["mirrored"][0]["loss"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multiworker_two_processes_train_to_the_end(train_data, tmp_path):
    config = write_tiny_train_config(tmp_path, train_data, epochs=2)
    workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    run = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps(tf_config),
            CUDA_VISIBLE_DEVICES="",
            TF_CPP_MIN_LOG_LEVEL="3",
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tfmm.cli",
                    "train",
                    config,
                    "--strategy",
                    "multiworker",
                    "--out",
                    str(run),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=300)[0])
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
        assert "MultiWorkerMirroredStrategy" in out or "CollectiveAllReduceStrategy" in out
        assert "global batch 8 = 4 per replica x 2" in out
    # The chief (worker 0) writes the run directory; worker 1 writes beside it.
    histories = []
    for d in (run, run / "worker-1"):
        with open(d / "history.csv") as f:
            histories.append(list(csv.DictReader(f)))
        assert (d / "model.keras").exists()
    assert [r["epoch"] for r in histories[0]] == ["0", "1"]
    # Gradients are all-reduced, so both workers hold the same model: same losses.
    for a, b in zip(*histories):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
    # Both workers end with the same weights, and the chief's reported test accuracy is
    # its saved model's, recomputed from predictions on the test manifest.
    from tfmm.training import load_run

    model, config, vocabularies = load_run(str(run))
    other = keras.saving.load_model(str(run / "worker-1" / "model.keras"), compile=False)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    probs = model.predict(
        tfmm.data.make_dataset(
            config, str(train_data / "test.csv"), vocabularies, with_labels=False
        ),
        verbose=0,
    )["label"]
    with open(train_data / "test.csv", newline="") as f:
        truth = [r["label"] for r in csv.DictReader(f)]
    predicted = [config.outputs[0].labels[k] for k in probs.argmax(-1)]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["label"]["accuracy"] == pytest.approx(
        np.mean([p == t for p, t in zip(predicted, truth)]), abs=1e-9
    )


ONE_STEP_SCRIPT = """
import json
import keras, numpy as np, tensorflow as tf
import tfmm
from tests import helpers
from tests.helpers import random_inputs, random_targets, tiny_config
from tfmm.training.strategy import get_strategy
# No dropout anywhere (modality dropout included): each replica would draw its own masks.
helpers.TINY_INPUTS["text"] = dict(helpers.TINY_INPUTS["text"],
                                   encoder=dict(helpers.TINY_TEXTCNN, dropout=0.0))
config = tiny_config(("text", "audio"), fusion={**helpers.TINY_FUSION, "modality_dropout": 0.0})
weights = {}
for name in ("default", "mirrored"):
    strategy = get_strategy(name)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = tfmm.build_model(config)
        # SGD: the update is linear in the gradient (Adam's first step is about
        # lr * sign(g), which round-off flips where g is near 0).
        tfmm.compile_model(model, config, optimizer=keras.optimizers.SGD(0.5))
    x, y = random_inputs(model, batch=8, seed=1), random_targets(config, batch=8, seed=1)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    if name == "mirrored":
        assert strategy.num_replicas_in_sync == 2
    model.fit(ds, epochs=1, verbose=0, shuffle=False)
    weights[name] = [w.tolist() for w in model.get_weights()]
print("RESULT " + json.dumps(weights))
"""


def test_one_step_on_two_replicas_equals_one_device(tmp_path):
    # Fast twin of the 3-epoch test: one batch of 8, split 4 + 4 over 2 replicas, moves
    # every weight exactly as one device does (gradients summed, not averaged twice).
    import numpy as np

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    body = f"import sys; sys.path.insert(0, {root!r})\n" + ONE_STEP_SCRIPT
    w, _ = run_on_two_logical_cpus(body, [], tmp_path)
    assert len(w["default"]) == len(w["mirrored"]) > 0
    for a, b in zip(w["default"], w["mirrored"]):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-4, atol=1e-6)
