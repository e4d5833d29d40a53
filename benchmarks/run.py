"""Runs the benchmarks and rewrites the results table in BENCHMARKS.md.

    python -m benchmarks.run --quick          # at most 15 minutes on 2 CPU cores
    python -m benchmarks.run [--only NAME ...] [--gpu] [--work DIR]

Each benchmark module declares `MINUTES` (quick, full: on 2 CPU cores) and whether
`--quick` runs it (`IN_QUICK`, default true); the expected time is printed before
anything starts, and the time each one took is in the table.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BENCHMARKS = (
    "demo",
    "input_pipeline",
    "input_pipeline_224",
    "input_stall",
    "compute",
    "serving",
    "scale",
    "replicas",
    "fusion",
    "pretraining",
    "quality",
    "tables",
    "tuning",
    "calibration",
    "retrieval",
    "service",
    "gpu",
)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
QUICK_BUDGET_MINUTES = 15


def module(name):
    import importlib

    return importlib.import_module(f"benchmarks.{name}")


def selected(only=None, quick=False):
    """The benchmarks a run does: those named, else all (`--quick`: those in it)."""
    if only:
        return list(only)
    return [n for n in BENCHMARKS if not quick or getattr(module(n), "IN_QUICK", True)]


def expected_minutes(names, quick):
    """The sum of the benchmarks' declared minutes (2 CPU cores) for this run."""
    return sum(module(n).MINUTES[0 if quick else 1] for n in names)


def commit():
    """The short commit of the checkout, with '+changes' when tracked files other than
    BENCHMARKS.md differ from it (the figures then come from code no commit holds)."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)

    try:
        rev = git("rev-parse", "--short", "HEAD").stdout.strip()
        if not rev:
            return "unknown"
        changed = git("diff", "--quiet", "HEAD", "--", ".", ":!BENCHMARKS.md").returncode
        return rev + ("+changes" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    import keras
    import onnxruntime
    import tensorflow as tf

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, tensorflow {tf.__version__}, keras "
        f"{keras.__version__}, onnxruntime {onnxruntime.__version__}; GPUs: "
        f"{len(tf.config.list_physical_devices('GPU'))}"
    )


def table(results, quick, seconds, rev=None):
    from benchmarks.common import stamp

    command = "python -m benchmarks.run" + (" --quick" if quick else "")
    lines = [
        stamp(command, rev, note=f"{'--quick' if quick else 'full'}, {seconds:.0f} s"),
        "",
        "| benchmark | ratio | goal | s | figures |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        took = f"{r['seconds']:.0f}" if "seconds" in r else ""
        if "error" in r:
            lines.append(f"| {name} | failed | | {took} | {r['error'][:120]} |")
            continue
        figures = ", ".join(
            f"{k}={_fmt(v)}" for k, v in r.items() if k not in ("ratio", "goal", "seconds")
        )
        lines.append(f"| {name} | {r['ratio']:.3f} | {r['goal']} | {took} | {figures} |")
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def write_markdown(text, path=os.path.join(ROOT, "BENCHMARKS.md")):
    with open(path) as f:
        doc = f.read()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    with open(path, "w") as f:
        f.write(doc[:start] + "\n" + text + "\n" + doc[end:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS)
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="replicas over GPUs; the one-GPU figures (float32, mixed, XLA)",
    )
    parser.add_argument("--work", help="folder for data and exports (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)

    work = args.work or tempfile.mkdtemp(prefix="tfmm-bench-")
    os.makedirs(work, exist_ok=True)
    names = selected(args.only, args.quick)
    print(
        f"benchmarks: {', '.join(names)}; expected about "
        f"{expected_minutes(names, args.quick)} minutes on 2 CPU cores",
        flush=True,
    )
    results, start = {}, time.time()
    for name in names:
        bench = module(name)
        print(f"\n== {name} (about {bench.MINUTES[0 if args.quick else 1]} min)", flush=True)
        kwargs = {"gpu": True} if name in ("replicas", "gpu") and args.gpu else {}
        began = time.time()
        try:
            results[name] = bench.run(work, quick=args.quick, **kwargs)
        except Exception as e:  # one failing benchmark must not hide the others
            print(f"{name}: failed: {type(e).__name__}: {e}")
            results[name] = {"error": f"{type(e).__name__}: {e}"}
        results[name]["seconds"] = time.time() - began
    seconds = time.time() - start
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=float)
    text = table(results, args.quick, seconds)
    print("\n" + text)
    if not args.no_write and not args.only:
        write_markdown(text)
        print(f"\nwrote the table to {os.path.join(ROOT, 'BENCHMARKS.md')}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
