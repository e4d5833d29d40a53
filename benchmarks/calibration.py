"""Temperature scaling on trained runs: the temperature fitted on each run's validation
rows, and the test rows' expected calibration error (15 bins), Brier score, NLL and
accuracy before and after (accuracy cannot move: the labels are the same).

    python -m benchmarks.run --only calibration          # trains its own runs
    python -m benchmarks.calibration RUN_DIR [RUN_DIR ...]   # any finished runs

Its own runs: the quality benchmark's default model on the hard complementary data,
data seeds 101-103 (`benchmarks.protocol`), 24 epochs, one initialisation seed each;
and the table benchmark's default on its three splits. Each run's test rows are read
once, after the temperature was fitted on its validation rows.
"""

import argparse
import os

import numpy as np

NAME = "calibration"
# Minutes on 2 CPU cores (quick: 2 runs of the table model; full: 3 hard-data runs of
# about 4 min and 3 table runs).
MINUTES = (3, 16)
IN_QUICK = False


def measure_run(run_dir):
    """{"temperature", "before": {...}, "after": {...}} of each classification output of a
    finished run (its config must name val and test splits)."""
    import yaml

    from tfmm.calibration import calibration_report, fit_temperature, with_temperature
    from tfmm.training.inference import load_run, predict_arrays

    model, config, vocabularies = load_run(run_dir)
    with open(os.path.join(run_dir, "config.yaml")) as f:
        data = yaml.safe_load(f)["data"]
    splits = {}
    for split in ("val", "test"):
        path = data.get(split) or os.path.join(os.path.dirname(data["train"]), f"{split}.csv")
        splits[split] = predict_arrays(
            model, config, config.resolve_path(path), vocabularies, with_labels=True
        )
    out = {}
    for o in config.outputs:
        if o.type == "regression":
            continue
        val_p, val_t = splits["val"][0][o.name], splits["val"][1][o.name]
        test_p, test_t = splits["test"][0][o.name], splits["test"][1][o.name]
        t = fit_temperature(val_p, val_t, o.type)
        after = with_temperature(test_p, t, o.type)

        def accuracy(p, y, kind=o.type):
            if kind == "multiclass":
                return float(np.mean(p.argmax(-1) == np.asarray(y).reshape(-1)))
            return float(np.mean((p > 0.5) == (np.asarray(y).reshape(p.shape) > 0.5)))

        out[o.name] = {
            "temperature": t,
            "before": {
                **calibration_report(test_p, test_t, o.type),
                "accuracy": accuracy(test_p, test_t),
            },
            "after": {
                **calibration_report(after, test_t, o.type),
                "accuracy": accuracy(after, test_t),
            },
        }
    return out


def _train_own(work, quick, log):
    """Run directories of the default models (quality's `cnn`, tables' default)."""
    import keras

    import tfmm
    from benchmarks import quality, tables
    from benchmarks.hard_data import make_hard_dataset
    from tfmm.training import train

    runs = []
    if not quick:
        for d in (101, 102, 103):
            data_dir = os.path.join(work, f"hard_complementary_n1000_seed{d}")
            if not os.path.exists(os.path.join(data_dir, "test.csv")):
                make_hard_dataset(data_dir, "complementary", n=1000, seed=d)
            cfg = quality.config_dict("cnn", data_dir, 0)
            cfg["data"]["cache"] = "memory"
            run_dir = os.path.join(work, "calibration", f"hard-{d}")
            if not os.path.exists(os.path.join(run_dir, "model.keras")):
                keras.utils.clear_session()
                train(tfmm.config_from_dict(cfg), run_dir, log=lambda *a: None, verbose=0)
            runs.append(("hard complementary", d, run_dir))
    for seed in (0, 1) if quick else (0, 1, 2):
        paths = tables.split(seed, os.path.join(work, f"table_data_{seed}"))
        cfg = tables.tfmm_config(paths, seed)
        for i in cfg["inputs"]:
            i.pop("encoder", None)  # the defaults
        run_dir = os.path.join(work, "calibration", f"table-{seed}")
        if not os.path.exists(os.path.join(run_dir, "model.keras")):
            keras.utils.clear_session()
            train(tfmm.config_from_dict(cfg), run_dir, log=lambda *a: None, verbose=0)
        runs.append(("real table", seed, run_dir))
    log(f"calibration: {len(runs)} runs")
    return runs


def markdown(rows):
    lines = [
        "| data | seed | temperature | ECE before → after | Brier before → after | "
        "NLL before → after | accuracy (unchanged) |",
        "|---|---|---|---|---|---|---|",
    ]
    for data, seed, r in rows:
        b, a = r["before"], r["after"]
        lines.append(
            f"| {data} | {seed} | {r['temperature']:.3f} | {b['ece']:.3f} → {a['ece']:.3f} | "
            f"{b['brier']:.3f} → {a['brier']:.3f} | {b['nll']:.3f} → {a['nll']:.3f} | "
            f"{b['accuracy']:.3f} |"
        )
    for data in dict.fromkeys(d for d, _, _ in rows):
        rs = [r for d, _, r in rows if d == data]
        lines.append(
            f"\n{data}: ECE {np.mean([r['before']['ece'] for r in rs]):.3f} → "
            f"{np.mean([r['after']['ece'] for r in rs]):.3f} on average over {len(rs)} runs; "
            f"lower after on {sum(r['after']['ece'] < r['before']['ece'] for r in rs)} of "
            f"{len(rs)}."
        )
    return "\n".join(lines)


def run(work, quick=False, log=print):
    from benchmarks.common import write_section

    rows = []
    for data, seed, run_dir in _train_own(work, quick, log):
        for _, r in measure_run(run_dir).items():
            rows.append((data, seed, r))
            log(f"calibration {data} {seed}: {r}")
    if not quick:
        write_section(
            "calibration", markdown(rows), command="python -m benchmarks.run --only calibration"
        )
    before = np.mean([r["before"]["ece"] for _, _, r in rows])
    after = np.mean([r["after"]["ece"] for _, _, r in rows])
    return {
        "ratio": float(after / max(before, 1e-9)),
        "goal": "< 1 (test ECE after / before temperature scaling)",
        "ece_before": float(before),
        "ece_after": float(after),
    }


def _describe(run_dir):
    """(data, run) of a run for the table: its config's name, and its folder."""
    import yaml

    with open(os.path.join(run_dir, "config.yaml")) as f:
        name = yaml.safe_load(f).get("name")
    data = {"cnn": "hard complementary", "tables": "real table"}.get(name, name)
    return data, os.path.basename(run_dir.rstrip("/"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="finished run directories (val and test splits)")
    p.add_argument("--write", action="store_true", help="rewrite the calibration section")
    args = p.parse_args(argv)
    rows = [(*_describe(r), x) for r in args.runs for x in measure_run(r).values()]
    text = markdown(rows)
    print(text)
    if args.write:
        from benchmarks.common import write_section

        where = sorted({os.path.dirname(os.path.abspath(r)) for r in args.runs})
        write_section(
            "calibration",
            text,
            command=f"python -m benchmarks.calibration --write RUN... ({len(args.runs)} runs "
            f"in {', '.join(where)})",
        )


if __name__ == "__main__":
    main()
