"""Shared pieces of the benchmarks: demo data, configs, timing."""

import datetime
import os
import sys
import re
import time

import numpy as np

import tfmm
from tfmm.data.demo import demo_config


def demo_data(root, n):
    """The demo dataset with n examples under root (made once)."""
    path = os.path.join(root, f"demo_{n}")
    if not os.path.exists(os.path.join(path, "train.csv")):
        tfmm.data.make_demo_dataset(path, n=n, seed=0)
    return path


def config_for(data_dir, modalities=("text", "image", "audio"), image_size=32, batch_size=32):
    cfg = demo_config(data_dir, modalities=modalities, image_size=image_size, batch_size=batch_size)
    config = tfmm.config_from_dict(cfg)
    vocabularies = tfmm.data.fit_preprocessing(
        config, tfmm.data.Manifest(config.resolve_path(config.data.train))
    )
    return config, vocabularies


def timed(fn, repeats=3):
    """Best wall time of `repeats` calls (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def percentile_ms(samples, q):
    return float(np.percentile(np.asarray(samples) * 1000, q))


# The first line of every section a benchmark writes (tests/test_benchmarks_doc.py).
STAMP = re.compile(r"^Written (\d{4}-\d{2}-\d{2}) by `([^`]+)` at commit (\S+) on (.+)\.$")


def stamp(command, rev=None, machine=None, note=""):
    """'Written DATE by `command` at commit REV on MACHINE.': the line that says where a
    section's figures came from."""
    from benchmarks import run

    rev = rev or run.commit()
    machine = machine or run.machine()
    note = f" ({note})" if note else ""
    day = datetime.date.today().isoformat()
    return f"Written {day} by `{command}` at commit {rev} on {machine}{note}."


def cli_command(module, argv=None):
    """The command line that ran benchmark `module` (`__name__`) with `argv` (default:
    this process's arguments), as a section's stamp names it.

    >>> cli_command("benchmarks.tables", ["--choose", "--write"])
    'python -m benchmarks.tables --choose --write'
    """
    return " ".join(["python -m " + module, *(sys.argv[1:] if argv is None else argv)])


def write_section(name, text, path=None, command=None, rev=None, note=""):
    """Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in
    BENCHMARKS.md; with `command`, the text starts with its `stamp` line."""
    if command:
        text = stamp(command, rev, note=note) + "\n\n" + text
    path = path or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "BENCHMARKS.md"
    )
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    with open(path) as f:
        doc = f.read()
    if begin not in doc:
        doc = doc.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    with open(path, "w") as f:
        f.write(doc[:start] + "\n" + text + "\n" + doc[stop:])
