"""7. Fusion strategies: every `fusion.type` and each single-modality baseline, trained on
the demo data with the same budget (epochs, batch size, optimizer, learning rate) for 3
seeds; test accuracy mean ± std, macro-F1, parameters and training time. Writes its own
table into BENCHMARKS.md (between the `fusion` markers)."""

import os
import statistics
import time

import keras

import tfmm
from benchmarks.common import demo_data, write_section
from tfmm.data.demo import demo_config

NAME = "fusion"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (2, 10)

# Demo-scale settings of each strategy (the concat row is exactly `tfmm demo`'s fusion).
STRATEGIES = {
    "concat": {"type": "concat", "hidden_units": [64], "dropout": 0.1, "normalize": True},
    "gated": {"type": "gated", "dim": 64, "hidden_units": [64], "dropout": 0.1},
    "gated (concat)": {
        "type": "gated",
        "combine": "concat",
        "dim": 64,
        "hidden_units": [64],
        "dropout": 0.1,
    },
    "cross_attention": {
        "type": "cross_attention",
        "dim": 64,
        "num_heads": 4,
        "num_layers": 1,
        "hidden_units": [64],
        "dropout": 0.1,
    },
    "single_stream": {
        "type": "single_stream",
        "dim": 64,
        "num_heads": 4,
        "num_layers": 2,
        "intermediate_dim": 128,
        "dropout": 0.1,
    },
    "late": {"type": "late", "hidden_units": [64], "dropout": 0.1, "combine": "learned"},
}
SINGLE = ("text", "image", "audio")


def variants():
    """(row name, modalities, fusion config) of every run."""
    out = [(name, ("text", "image", "audio"), f) for name, f in STRATEGIES.items()]
    out += [(f"{m} only", (m,), STRATEGIES["concat"]) for m in SINGLE]
    return out


def run(work, quick=False, write=True):
    n, seeds, epochs = (200, (0,), 2) if quick else (600, (0, 1, 2), 6)
    data = demo_data(work, n)
    rows = {}
    for name, modalities, fusion in variants():
        runs = []
        for seed in seeds:
            cfg = demo_config(data, modalities=modalities, epochs=epochs)
            cfg["fusion"] = dict(fusion)
            cfg["data"]["seed"] = seed
            config = tfmm.config_from_dict(cfg)
            keras.utils.clear_session()
            run_dir = os.path.join(work, "fusion_runs", f"{name.replace(' ', '_')}-{seed}")
            if os.path.exists(run_dir):
                import shutil

                shutil.rmtree(run_dir)
            t = time.perf_counter()
            model, metrics = tfmm.training.train(config, run_dir, log=lambda *a: None, verbose=0)
            seconds = time.perf_counter() - t
            m = metrics["label"]
            runs.append(
                {
                    "accuracy": m["accuracy"],
                    "macro_f1": m["macro_f1"],
                    "params": model.count_params(),
                    "seconds": seconds,
                }
            )
            print(
                f"{name:<16} seed {seed}: accuracy {m['accuracy']:.3f} macro-F1 "
                f"{m['macro_f1']:.3f} in {seconds:.0f} s",
                flush=True,
            )
        rows[name] = _summary(runs)
    text = _table(rows, n, seeds, epochs)
    print("\n" + text)
    if write and not quick:
        write_section("fusion", text, command="python -m benchmarks.run --only fusion")
    fused = {k: v for k, v in rows.items() if k in STRATEGIES}
    best = max(fused, key=lambda k: fused[k]["accuracy_mean"])
    return {
        "ratio": fused[best]["accuracy_mean"] / rows["concat"]["accuracy_mean"],
        "goal": "reported (best strategy / concat accuracy)",
        "best": best,
        **{k: round(v["accuracy_mean"], 3) for k, v in rows.items()},
    }


def _summary(runs):
    acc = [r["accuracy"] for r in runs]
    return {
        "accuracy_mean": statistics.mean(acc),
        "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
        "macro_f1": statistics.mean(r["macro_f1"] for r in runs),
        "params": runs[0]["params"],
        "seconds": statistics.mean(r["seconds"] for r in runs),
    }


def _table(rows, n, seeds, epochs):
    lines = [
        f"Demo data ({n} examples: 70% train, 15% val, 15% test), {epochs} epochs, batch "
        f"32, AdamW 2e-3, seeds {list(seeds)}; 2 shared CPU cores (times vary ±30%).",
        "",
        "| model | test accuracy (mean ± std) | macro-F1 | parameters | train + test s |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} | "
            f"{r['macro_f1']:.3f} | {r['params']:,} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)
