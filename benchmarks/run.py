"""Runs the benchmarks and rewrites the results table in BENCHMARKS.md.

    python -m benchmarks.run --quick
    python -m benchmarks.run [--only NAME ...] [--gpu] [--work DIR]
"""

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BENCHMARKS = ("demo", "input_pipeline", "input_pipeline_224", "input_stall", "compute",
              "serving", "scale", "replicas", "fusion", "pretraining", "quality", "tables", "service",
              "gpu")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def machine():
    import keras
    import onnxruntime
    import tensorflow as tf

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, tensorflow {tf.__version__}, keras "
            f"{keras.__version__}, onnxruntime {onnxruntime.__version__}; GPUs: "
            f"{len(tf.config.list_physical_devices('GPU'))}")


def table(results, quick, seconds):
    lines = [f"Run {datetime.date.today().isoformat()} ({'--quick' if quick else 'full'}, "
             f"{seconds:.0f} s) on {machine()}.", "",
             "| benchmark | ratio | goal | figures |", "|---|---|---|---|"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | failed | | {r['error'][:120]} |")
            continue
        figures = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items()
                            if k not in ("ratio", "goal"))
        lines.append(f"| {name} | {r['ratio']:.3f} | {r['goal']} | {figures} |")
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
    parser.add_argument("--gpu", action="store_true",
                        help="replicas over GPUs; the one-GPU figures (float32, mixed, XLA)")
    parser.add_argument("--work", help="folder for data and exports (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    import importlib

    work = args.work or tempfile.mkdtemp(prefix="tfmm-bench-")
    os.makedirs(work, exist_ok=True)
    results, start = {}, time.time()
    for name in args.only or BENCHMARKS:
        print(f"\n== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        kwargs = {"gpu": True} if name in ("replicas", "gpu") and args.gpu else {}
        try:
            results[name] = module.run(work, quick=args.quick, **kwargs)
        except Exception as e:  # one failing benchmark must not hide the others
            print(f"{name}: failed: {type(e).__name__}: {e}")
            results[name] = {"error": f"{type(e).__name__}: {e}"}
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
