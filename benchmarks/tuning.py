"""`tfmm tune` on the quality benchmark's hard complementary data: a search over the
learning rate, the fusion type and its dropout, chosen on the validation split, against
the default config; test accuracy over initialisation seeds, read once per config and seed.

    python -m benchmarks.run --only tuning
    python -m benchmarks.tuning --trials 12 --seeds 0 1 2 --epochs 12 --executions 2

The base config is the quality benchmark's `cnn` model (the README recipe) with
`data.cache: memory` (decoded once, so the trials cost compute, not decoding). The search
(KerasTuner's random search, oracle seed 0) sees the training and validation rows only.
Then the default and the chosen config are trained with data seeds 0, 1, 2 (the shuffling
and initialisation; the rows are the same) and tested once each; the table has the mean
± std and the paired difference (chosen - default) with its 95% t interval.
"""

import argparse
import os
import shutil
import time

import numpy as np

NAME = "tuning"
# Minutes on 2 CPU cores (quick: 4 trials at 6 epochs, 1 seed; full: 12 trials of 2 runs
# and 3 seeds at 12 epochs; one run per trial measured 28 min on 2026-12-05).
MINUTES = (8, 50)
IN_QUICK = False
SPACE = {
    "training.learning_rate": {"log_uniform": [3.0e-4, 1.0e-2]},
    "fusion.type": {"choice": ["concat", "gated"]},
    "fusion.dropout": {"uniform": [0.0, 0.5]},
}


def _train_test(config_path, run_dir, seed, test):
    """Test accuracy of `config_path` trained with data seed `seed` (the test rows, once)."""
    import keras

    import tfmm
    from tfmm.training import train

    keras.utils.clear_session()
    shutil.rmtree(run_dir, ignore_errors=True)
    config = tfmm.load_config(config_path, overrides=[f"data.seed={seed}", f"data.test={test}"])
    _, metrics = train(config, run_dir, log=lambda *a: None, verbose=0)
    return metrics["label"]["accuracy"]


def paired(a, b):
    """(mean of b - a, half-width of its 95% t interval) over paired seeds."""
    from scipy import stats

    d = np.asarray(b) - np.asarray(a)
    if len(d) < 2:
        return float(d.mean()), float("nan")
    return float(d.mean()), float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))


def measure(work, trials, seeds, epochs, executions=2, log=print):
    import yaml

    from benchmarks import quality
    from benchmarks.hard_data import make_hard_dataset
    from tfmm.tuning import tune

    data_dir = os.path.join(work, "hard_complementary")
    if not os.path.exists(os.path.join(data_dir, "test.csv")):
        make_hard_dataset(data_dir, "complementary", n=1000, seed=0)
    folder = os.path.join(work, "tuning")
    os.makedirs(folder, exist_ok=True)
    base = quality.config_dict("cnn", data_dir, seed=0)
    base["training"]["epochs"] = epochs
    base["data"]["cache"] = "memory"
    # The search sees no test rows at all; each reported config reads them once per seed.
    test = base["data"].pop("test")
    base_path, space_path = os.path.join(folder, "base.yaml"), os.path.join(folder, "space.yaml")
    with open(base_path, "w") as f:
        yaml.safe_dump(base, f, sort_keys=False)
    with open(space_path, "w") as f:
        yaml.safe_dump(SPACE, f, sort_keys=False)
    out = os.path.join(folder, "search")
    t = time.time()
    summary = tune(
        base_path,
        space_path,
        out,
        max_trials=trials,
        seed=0,
        log=log,
        executions_per_trial=executions,
    )
    search_s = time.time() - t
    best_path = os.path.join(out, "best.yaml")
    scores = {"default": [], "tuned": []}
    for seed in seeds:
        for name, path in (("default", base_path), ("tuned", best_path)):
            acc = _train_test(path, os.path.join(folder, "runs", f"{name}-{seed}"), seed, test)
            scores[name].append(acc)
            log(f"tuning: {name} seed {seed}: test accuracy {acc:.3f}")
    return summary, scores, search_s


def markdown(summary, scores, seeds, trials, epochs, search_s, executions):
    best = summary["best"]
    d, half = paired(scores["default"], scores["tuned"])
    rows = summary["trials"]
    chosen = ", ".join(
        f"`{k}`: {best[k]:.4g}" if isinstance(best[k], float) else f"`{k}`: {best[k]}"
        for k in SPACE
    )
    lines = [
        f"`tfmm tune` on the hard complementary data (`benchmarks/hard_data.py`, 1,000 rows, "
        f"700 train / 150 validation / 150 test), base: the quality benchmark's `cnn` model "
        f"(the README recipe) at {epochs} epochs with `data.cache: memory`; random search, "
        f"{trials} trials over {', '.join(f'`{k}`' for k in SPACE)}, each trained "
        f"{executions} time(s) (data seeds 0..{executions - 1}; `--executions-per-trial "
        f"{executions}`), chosen on the mean validation accuracy ({search_s / 60:.0f} min). "
        f"Chosen (trial {best['trial']}, validation accuracy {best['val_accuracy']:.3f}): "
        f"{chosen}. Then each config trained with data "
        f"seeds {list(seeds)} and tested once per seed.",
        "",
        "| config | test accuracy (mean ± std) | per seed |",
        "|---|---|---|",
    ]
    for name in ("default", "tuned"):
        s = np.asarray(scores[name])
        lines.append(
            f"| {name} | {s.mean():.3f} ± {s.std():.3f} | {' / '.join(f'{v:.3f}' for v in s)} |"
        )
    lines += [
        "",
        f"Paired difference, tuned - default: {d:+.3f} (95% t interval ± {half:.3f}, "
        f"{len(seeds)} seeds). Validation accuracy of the trials, best first: "
        + ", ".join(
            f"{r['val_accuracy']:.3f}" for r in rows if isinstance(r.get("val_accuracy"), float)
        )
        + ".",
    ]
    return "\n".join(lines)


def run(work, quick=False):
    from benchmarks.run import commit

    trials, seeds, epochs, executions = (4, (0,), 6, 1) if quick else (12, (0, 1, 2), 12, 2)
    rev = commit()
    summary, scores, search_s = measure(work, trials, seeds, epochs, executions)
    from benchmarks.common import write_section

    command = "python -m benchmarks.run --only tuning" + (" --quick" if quick else "")
    write_section(
        "tuning",
        markdown(summary, scores, seeds, trials, epochs, search_s, executions),
        command=command,
        rev=rev,
    )
    default, tuned = np.mean(scores["default"]), np.mean(scores["tuned"])
    return {
        "ratio": float(tuned / max(default, 1e-9)),
        "goal": ">= 1 (tuned vs default, test accuracy)",
        "default": float(default),
        "tuned": float(tuned),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-tuning", help="data and runs folder")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--executions", type=int, default=2, help="training runs per trial")
    p.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = p.parse_args(argv)
    from benchmarks.run import commit

    rev = commit()
    summary, scores, search_s = measure(
        args.work, args.trials, args.seeds, args.epochs, args.executions
    )
    command = (
        f"python -m benchmarks.tuning --trials {args.trials} --seeds "
        f"{' '.join(map(str, args.seeds))} --epochs {args.epochs} --executions {args.executions}"
    )
    text = markdown(
        summary, scores, args.seeds, args.trials, args.epochs, search_s, args.executions
    )
    print(text)
    if not args.no_write:
        from benchmarks.common import write_section

        write_section("tuning", text, command=command, rev=rev)


if __name__ == "__main__":
    main()
