"""11. tf.data service: examples/s of the training pipeline read locally and through a
dispatcher with 1 and 2 local worker processes (`tfmm data serve`).

On one machine the workers share its cores with the consumer, so this measures the
service's cost and that it scales with workers, not the gain of adding machines.
"""

import os
import time

import tfmm
from benchmarks.common import config_for, demo_data
from tfmm.data.service import start_local_service, stop_local_service

NAME = "service"


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
        address, procs = start_local_service(workers)
        try:
            served = dataclasses.replace(config, data=dataclasses.replace(
                config.data, service=address))
            key = f"service_{workers}_worker" + ("s" if workers > 1 else "")
            results[key] = examples_per_s(served, manifest, vocabs, passes)
            log(f"{key:<16} {results[key]:8.1f} examples/s")
        finally:
            stop_local_service(procs)
    ratio = results["service_2_workers"] / results["service_1_worker"]
    log(f"{NAME}: ratio={ratio:.3f} (2 workers / 1 worker)")
    return {**{k: float(v) for k, v in results.items()}, "ratio": ratio,
            "goal": ">= 1 (2 workers / 1; on one machine they share its cores)"}
