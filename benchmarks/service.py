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
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 3)


def examples_per_s(config, manifest, vocabs, batches):
    """Examples/s over `batches` batches of one repeated training stream, after 5
    batches of warm-up (a service job starts when its workers next hear from the
    dispatcher, up to a heartbeat later: the start is not what is measured)."""
    it = iter(tfmm.data.make_dataset(config, manifest, vocabs, training=True, repeat=True))
    for _ in range(5):
        next(it)
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        x, _ = next(it)
        n += len(next(iter(x.values())))
    return n / (time.perf_counter() - start)


def run(root, quick=True, log=print):
    import dataclasses

    data = demo_data(root, 600)
    config, vocabs = config_for(data, image_size=64)
    manifest = os.path.join(data, "train.csv")
    batches = 60 if quick else 200
    results = {"local": examples_per_s(config, manifest, vocabs, batches)}
    log(f"local          {results['local']:8.1f} examples/s")
    for workers in (1, 2):
        address, procs = start_local_service(workers)
        try:
            served = dataclasses.replace(
                config, data=dataclasses.replace(config.data, service=address)
            )
            key = f"service_{workers}_worker" + ("s" if workers > 1 else "")
            results[key] = examples_per_s(served, manifest, vocabs, batches)
            log(f"{key:<16} {results[key]:8.1f} examples/s")
        finally:
            stop_local_service(procs)
    ratio = results["service_2_workers"] / results["service_1_worker"]
    log(f"{NAME}: ratio={ratio:.3f} (2 workers / 1 worker)")
    return {
        **{k: float(v) for k, v in results.items()},
        "ratio": ratio,
        "goal": ">= 1 (2 workers / 1; on one machine they share its cores)",
    }
