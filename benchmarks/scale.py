"""5. Scale: examples per second and peak RSS streaming TFRecord shards of N and 10N
examples through tfmm's pipeline (each in a fresh process, so peak RSS is its own).
Time should be linear in N and memory flat.

Then the same for a streamed Parquet table (`data.stream: true`: text, numbers and
categories, row groups of 50,000 rows) of M and 10M rows: preprocessing fitted (on up to
`data.fit_rows` rows), every row checked, then one training pass, in a fresh process.
Memory should stay flat where a loaded manifest's grows with the rows."""

import json
import os
import subprocess
import sys

import tfmm
from benchmarks.common import config_for, demo_data

NAME = "scale"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (2, 4)

STREAM = r"""
import json, sys, time
import tfmm
from benchmarks.common import config_for
config, vocabs = config_for(sys.argv[1], image_size=64)
ds = tfmm.data.make_dataset(config, sys.argv[2], vocabs, training=False, batch_size=32)
it = iter(ds)
n = int(next(it)[1]["label"].shape[0])  # start-up (tracing, file opening) not timed
t = time.perf_counter()
for x, y in it:
    n += int(y["label"].shape[0])
elapsed = time.perf_counter() - t
# VmHWM: this process's own peak RSS (ru_maxrss would include the forking parent's).
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print("RESULT", json.dumps({"examples": n, "seconds": elapsed, "peak_rss_mb": hwm / 1024}))
"""


PARQUET = r"""
import json, sys, time
import tfmm
from tfmm.data.stream import ParquetStream
config = tfmm.config_from_dict({
    "inputs": [
        {"name": "note", "type": "text", "encoder": {"type": "tfidf", "vocab_size": 2000}},
        {"name": "facts", "type": "tabular", "numeric": ["size", "votes"],
         "categorical": ["color", "shop"]},
    ],
    "outputs": [{"name": "good", "type": "binary"}],
    "data": {"train": sys.argv[1], "stream": True, "batch_size": 256},
})
t = time.perf_counter()
stream = ParquetStream(config, sys.argv[1])
vocabs = tfmm.data.fit_preprocessing(config, stream)
n = 0
for x, y in tfmm.data.make_dataset(config, stream, vocabs, training=True):
    n += int(y["good"].shape[0])
elapsed = time.perf_counter() - t
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print("RESULT", json.dumps({"examples": n, "seconds": elapsed, "peak_rss_mb": hwm / 1024}))
"""


def write_parquet_table(path, rows, seed=0):
    """A text + numbers + categories table of `rows` rows, row groups of 50,000."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    words = np.array("lovely poor fit seams soft thin warm fabric colour size small".split())
    size = rng.uniform(0, 10, rows)
    color = rng.choice(["red", "green", "blue"], rows)
    table = pa.table(
        {
            "note": [" ".join(w) for w in words[rng.integers(0, len(words), (rows, 40))]],
            "size": size,
            "votes": rng.pareto(1.0, rows) * 100,
            "color": color,
            "shop": [f"shop{i % 50}" for i in range(rows)],
            "good": np.where((size > 5) != (color == "blue"), "yes", "no"),
        }
    )
    pq.write_table(table, path, row_group_size=50_000)
    return path


def _stream(data, pattern, script=STREAM):
    proc = subprocess.run(
        [sys.executable, "-c", script, data, *([pattern] if pattern else [])],
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
    return json.loads(line[0][7:])


def run(root, quick=True, log=print):
    n = 600 if quick else 2400
    data = demo_data(root, n)
    config, _ = config_for(data, image_size=64)
    shards = os.path.join(root, f"shards_{n}")
    if not os.path.exists(shards):
        tfmm.data.write_tfrecords(
            config, os.path.join(data, "train.csv"), shards, shards=4, verbose=False
        )
    # N and 10N: the same shards repeated (same bytes per example, ten times as many).
    copies = 3 if quick else 10
    dirs = {}
    for label, k in (("N", copies), ("10N", 10 * copies)):
        dirs[label] = os.path.join(root, f"shards_{n}_x{k}")
        if not os.path.exists(dirs[label]):
            os.makedirs(dirs[label])
            for c in range(k):
                for f in sorted(os.listdir(shards)):
                    os.link(os.path.join(shards, f), os.path.join(dirs[label], f"{c}-{f}"))
    small, big = dirs["N"], dirs["10N"]
    small_r = _stream(data, os.path.join(small, "*.tfrecord"))
    big_r = _stream(data, os.path.join(big, "*.tfrecord"))
    time_ratio = big_r["seconds"] / (10 * small_r["seconds"])
    mem_ratio = big_r["peak_rss_mb"] / small_r["peak_rss_mb"]
    for label, r in (("N", small_r), ("10N", big_r)):
        log(
            f"{label:>3}: {r['examples']:6d} examples in {r['seconds']:6.2f} s "
            f"({r['examples'] / r['seconds']:7.1f}/s), peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    log(f"time(10N) / (10 x time(N)) = {time_ratio:.3f}; peak RSS(10N) / RSS(N) = {mem_ratio:.3f}")
    log(f"{NAME}: ratio={time_ratio:.3f}")
    parquet = _parquet(root, 20_000 if quick else 50_000, log)
    return {
        "N": small_r,
        "10N": big_r,
        "time_ratio": time_ratio,
        "memory_ratio": mem_ratio,
        **parquet,
        "ratio": time_ratio,
        "goal": "time and memory within 10% of linear",
    }


def _parquet(root, m, log):
    """The streamed Parquet table of M and 10M rows; {} without pyarrow."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        log("scale: parquet streaming skipped (pip install 'tfmm[tables]')")
        return {}
    out = {}
    for label, rows in (("M", m), ("10M", 10 * m)):
        path = os.path.join(root, f"table_{rows}.parquet")
        if not os.path.exists(path):
            write_parquet_table(path, rows)
        out[f"parquet_{label}"] = r = _stream(path, None, PARQUET)
        log(
            f"parquet {label:>3}: {r['examples']:7d} rows in {r['seconds']:6.1f} s "
            f"({r['examples'] / r['seconds']:7.0f}/s), peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    small, big = out["parquet_M"], out["parquet_10M"]
    out["parquet_time_ratio"] = big["seconds"] / (10 * small["seconds"])
    out["parquet_memory_ratio"] = big["peak_rss_mb"] / small["peak_rss_mb"]
    log(
        f"parquet: time(10M) / (10 x time(M)) = {out['parquet_time_ratio']:.3f}; "
        f"peak RSS(10M) / RSS(M) = {out['parquet_memory_ratio']:.3f}"
    )
    return out
