"""11. tf.data service: examples/s of the training pipeline read locally and through a
dispatcher with 1 and 2 local worker processes (`tfmm data serve`).

On one machine the workers share its cores with the consumer, so this measures the
service's cost and that it scales with workers, not the gain of adding machines.
"""

import os
import socket
import subprocess
import sys
import time

import tfmm
from benchmarks.common import config_for, demo_data

NAME = "service"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def start_servers(workers):
    """(dispatcher address, processes): a dispatcher and `workers` worker processes."""
    serve = [sys.executable, "-m", "tfmm.cli", "data", "serve"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    port = _free_port()
    procs = [subprocess.Popen(serve + ["--dispatcher", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    _wait_for(port)
    for _ in range(workers):
        wport = _free_port()
        procs.append(subprocess.Popen(
            serve + ["--worker", "--dispatcher-address", f"127.0.0.1:{port}", "--port",
                     str(wport), "--host", "127.0.0.1"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for(wport)
    return f"grpc://127.0.0.1:{port}", procs


def examples_per_s(config, manifest, vocabs, passes):
    ds = tfmm.data.make_dataset(config, manifest, vocabs, training=True)
    best = 0.0
    for _ in range(passes):  # the first pass includes the job's start
        start, n = time.perf_counter(), 0
        for x, _ in ds:
            n += len(next(iter(x.values())))
        best = max(best, n / (time.perf_counter() - start))
    return best


def run(root, quick=True, log=print):
    import dataclasses

    data = demo_data(root, 600)
    config, vocabs = config_for(data, image_size=64)
    manifest = os.path.join(data, "train.csv")
    passes = 2 if quick else 3
    results = {"local": examples_per_s(config, manifest, vocabs, passes)}
    log(f"local          {results['local']:8.1f} examples/s")
    for workers in (1, 2):
        address, procs = start_servers(workers)
        try:
            served = dataclasses.replace(config, data=dataclasses.replace(
                config.data, service=address))
            key = f"service_{workers}_worker" + ("s" if workers > 1 else "")
            results[key] = examples_per_s(served, manifest, vocabs, passes)
            log(f"{key:<16} {results[key]:8.1f} examples/s")
        finally:
            for p in procs:
                p.kill()
                p.wait(timeout=30)
    ratio = results["service_2_workers"] / results["service_1_worker"]
    log(f"{NAME}: ratio={ratio:.3f} (2 workers / 1 worker)")
    return {**{k: float(v) for k, v in results.items()}, "ratio": ratio,
            "goal": ">= 1 (2 workers / 1; on one machine they share its cores)"}
