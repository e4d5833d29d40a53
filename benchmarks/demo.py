"""`tfmm demo` as the README runs it: wall time and peak memory of the whole command.

Runs the installed `tfmm demo` (default sizes and relative paths) in a fresh folder as a
child process, and reads the child's peak resident memory (`ru_maxrss`) and the peak
after each stage that the demo records in its `results.json`. Goals: at most 5 minutes
and 3 GB on 2 CPU cores.
"""

import json
import os
import resource
import subprocess
import sys
import time

NAME = "demo"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 3)
GOAL_SECONDS, GOAL_MB = 300, 3072


def run(work, quick=False):
    folder = os.path.join(work, "demo_cmd")
    os.makedirs(folder, exist_ok=True)
    tfmm = os.path.join(os.path.dirname(sys.executable), "tfmm")
    args = [tfmm, "demo"] + (["--n", "120", "--epochs", "2"] if quick else [])
    start = time.monotonic()
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode:
        raise RuntimeError(f"tfmm demo exited {proc.returncode}: {proc.stderr[-500:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with open(os.path.join(folder, "demo_run", "results.json")) as f:
        results = json.load(f)
    stages = {
        name: r.get("peak_rss_mb")
        for name, r in results.items()
        if isinstance(r, dict) and "peak_rss_mb" in r
    }
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line]
    print(
        f"tfmm demo: {seconds:.0f} s, peak {peak_mb:.0f} MB; after each stage: {stages}; "
        f"fused accuracy {results['fused']['accuracy']:.3f}; {len(warnings)} warnings"
    )
    return {
        "ratio": max(seconds / GOAL_SECONDS, peak_mb / GOAL_MB),
        "goal": "<= 1 (5 min and 3 GB)",
        "seconds": seconds,
        "peak_rss_mb": peak_mb,
        "peak_rss_mb_after": stages,
        "fused_accuracy": results["fused"]["accuracy"],
        "warnings": len(warnings),
    }
