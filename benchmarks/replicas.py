"""6. Replicas: training throughput with 1 and 2 replicas (logical CPU devices here: the
same 2 cores split in two, so the ideal is 1.0, not 2.0; on a machine with GPUs, run with
`--gpu` for the figures with float32, mixed precision and XLA)."""

import json
import os
import subprocess
import sys

from benchmarks.common import demo_data

NAME = "replicas"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 2)

SCRIPT = r"""
import json, sys, time
import tensorflow as tf
replicas, kind = int(sys.argv[2]), sys.argv[3]
if kind == "cpu":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
import keras, tfmm
from benchmarks.common import config_for
config, vocabs = config_for(sys.argv[1], image_size=32, batch_size=32 // replicas)
if sys.argv[4] == "mixed":
    keras.mixed_precision.set_global_policy("mixed_float16" if kind == "gpu" else "mixed_bfloat16")
devices = [d.name for d in tf.config.list_logical_devices("GPU" if kind == "gpu" else "CPU")]
strategy = tf.distribute.MirroredStrategy(devices[:replicas]) if replicas > 1 else \
    tf.distribute.get_strategy()
steps = int(sys.argv[5])
with strategy.scope():
    model = tfmm.build_model(config, vocabs)
    tfmm.compile_model(model, config, jit_compile=sys.argv[4] == "xla")
ds = strategy.distribute_datasets_from_function(lambda ctx: tfmm.data.make_dataset(
    config, sys.argv[1] + "/train.csv", vocabs, training=True, repeat=True,
    input_context=ctx, batch_size=32))
if replicas > 1:
    from tfmm._keras_compat import build_from_spec
    build_from_spec(model, ds.element_spec)
model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
t = time.perf_counter()
model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
print("RESULT", json.dumps({"examples_per_s": steps * 32 / (time.perf_counter() - t)}))
"""


def _throughput(data, replicas, kind="cpu", mode="float32", steps=8):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, data, str(replicas), kind, mode, str(steps)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:
        raise RuntimeError(
            proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        )
    return json.loads(line[0][7:])["examples_per_s"]


def run(root, quick=True, log=print, gpu=False):
    data = demo_data(root, 600)
    steps = 8 if quick else 30
    kind = "gpu" if gpu else "cpu"
    one = _throughput(data, 1, kind, steps=steps)
    two = _throughput(data, 2, kind, steps=steps)
    result = {"one_replica_examples_per_s": one, "two_replicas_examples_per_s": two}
    log(f"1 replica:  {one:7.1f} examples/s")
    log(f"2 replicas: {two:7.1f} examples/s ({kind})")
    if gpu:
        for mode in ("mixed", "xla"):
            result[mode] = _throughput(data, 1, kind, mode, steps=steps)
            log(f"1 GPU, {mode}: {result[mode]:7.1f} examples/s")
    ratio = two / one
    log(f"{NAME}: ratio={ratio:.3f}")
    return {**result, "ratio": ratio, "goal": "1.0 on split CPUs (same cores); near 2.0 on 2 GPUs"}
