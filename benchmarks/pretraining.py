"""8. Contrastive pretraining with 10% of the labels: the encoders are pretrained
(`tfmm pretrain --objective contrastive`) on every training row without labels, then the
model is trained on a random 10% of the labelled rows, from the pretrained encoders
(`training.init_from`) and from scratch, with the same budget; test accuracy for 3 seeds.
Writes its own table into BENCHMARKS.md (between the `pretraining` markers)."""

import csv
import os
import shutil
import statistics

import keras
import numpy as np

import tfmm
from benchmarks.common import demo_data, write_section
from tfmm.data.demo import demo_config

NAME = "pretraining"
# Minutes on 2 CPU cores (quick, full), as `benchmarks.run` prints them (quick: the
# 2026-12-04 `--quick` run's time, rounded up).
MINUTES = (1, 4)


def labelled_subset(train_csv, fraction, seed):
    """Writes a manifest with `fraction` of the rows of `train_csv` beside it (same
    relative media paths); returns its path."""
    with open(train_csv, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(rows), size=max(int(len(rows) * fraction), 8), replace=False))
    path = os.path.join(os.path.dirname(train_csv), f"train_{int(fraction * 100)}pct_{seed}.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows[k] for k in keep)
    return path


def hard_config(data_dir, epochs, batch_size=32):
    """The quality benchmark's default model (`benchmarks.quality`, `cnn`) on a hard data
    directory."""
    from benchmarks.quality import LEARNING_RATE, MODELS, _inputs

    image, audio, fusion, _ = MODELS["cnn"]
    return {
        "name": "hard",
        "inputs": _inputs(image, audio),
        "fusion": dict(fusion),
        "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
        "data": {
            **{s: os.path.join(data_dir, f"{s}.csv") for s in ("train", "val", "test")},
            "batch_size": batch_size,
        },
        "training": {"epochs": epochs, "learning_rate": LEARNING_RATE},
    }


def compare(data, make_config, root, seeds, fraction, pre_epochs, epochs, log=print):
    """Per seed: contrastive pretraining on every training row of `data` without labels,
    then training on `fraction` of the labelled rows from scratch and from the pretrained
    encoders. `make_config(epochs, batch_size)` gives the config dict. Returns
    {"scratch": [...], "pretrained": [...], "recall@1": [...]} (test accuracy per seed;
    text-to-image recall@1 after pretraining)."""
    shutil.rmtree(root, ignore_errors=True)
    out = {"scratch": [], "pretrained": [], "recall@1": []}
    for seed in seeds:
        cfg = make_config(pre_epochs, 32)
        cfg["data"]["seed"] = seed
        pre_dir = os.path.join(root, f"pre-{seed}")
        keras.utils.clear_session()
        pre = tfmm.pretraining.pretrain(
            tfmm.config_from_dict(cfg), pre_dir, log=lambda *a: None, verbose=0
        )
        out["recall@1"].append(pre["text_to_image_recall@1"])
        subset = labelled_subset(os.path.join(data, "train.csv"), fraction, seed)
        for kind in ("scratch", "pretrained"):
            cfg = make_config(epochs, 8)
            cfg["data"].update(seed=seed, train=subset)
            if kind == "pretrained":
                cfg["training"]["init_from"] = pre_dir
            keras.utils.clear_session()
            _, metrics = tfmm.training.train(
                tfmm.config_from_dict(cfg),
                os.path.join(root, f"{kind}-{seed}"),
                log=lambda *a: None,
                verbose=0,
            )
            out[kind].append(metrics["label"]["accuracy"])
            log(
                f"seed {seed} {kind:<10}: test accuracy {out[kind][-1]:.3f} "
                f"(recall@1 after pretraining {out['recall@1'][-1]:.3f})"
            )
    out["labelled_rows"] = len(open(subset).read().splitlines()) - 1
    return out


def run_hard(work, seeds=(0, 1, 2), fraction=0.1, pre_epochs=8, epochs=15, log=print):
    """The same comparison on the redundant hard variant (`benchmarks.hard_data`: the same
    label in every modality, so the modalities share content to align), with the quality
    benchmark's default model; returns what `compare` does."""
    from benchmarks.hard_data import make_hard_dataset

    data = os.path.join(work, "hard_redundant")
    if not os.path.exists(os.path.join(data, "test.csv")):
        make_hard_dataset(data, "redundant", n=1000, seed=0)
    return compare(
        data,
        lambda e, b: hard_config(data, e, b),
        os.path.join(work, "pretraining_hard_runs"),
        seeds,
        fraction,
        pre_epochs,
        epochs,
        log=log,
    )


def run(work, quick=False, write=True, fraction=0.1):
    n, seeds, pre_epochs, epochs = (200, (0,), 2, 3) if quick else (600, (0, 1, 2), 8, 15)
    data = demo_data(work, n)
    out = compare(
        data,
        lambda e, b: demo_config(data, epochs=e, batch_size=b),
        os.path.join(work, "pretraining_runs"),
        seeds,
        fraction,
        pre_epochs,
        epochs,
        log=lambda line: print(line, flush=True),
    )
    results = {k: out[k] for k in ("scratch", "pretrained")}
    recalls, rows = out["recall@1"], out["labelled_rows"]
    mean = {k: statistics.mean(v) for k, v in results.items()}
    std = {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in results.items()}
    text = "\n".join(
        [
            f"Demo data ({n} examples); labelled subset: {rows} training rows "
            f"({fraction:.0%}); contrastive pretraining on all training rows without labels, "
            f"{pre_epochs} epochs, batch 32; then {epochs} epochs at batch 8; seeds "
            f"{list(seeds)}.",
            "",
            "| start | test accuracy (mean ± std) | per seed |",
            "|---|---|---|",
            *[
                f"| {k} | {mean[k]:.3f} ± {std[k]:.3f} | "
                f"{', '.join(f'{a:.3f}' for a in results[k])} |"
                for k in results
            ],
            "",
            f"Text-to-image retrieval recall@1 after pretraining (validation split): "
            f"{statistics.mean(recalls):.3f}.",
        ]
    )
    print("\n" + text)
    if write and not quick:
        write_section("pretraining", text, command="python -m benchmarks.run --only pretraining")
    return {
        "ratio": mean["pretrained"] / max(mean["scratch"], 1e-9),
        "goal": "> 1 if pretraining helps",
        "scratch": mean["scratch"],
        "pretrained": mean["pretrained"],
        "recall@1": statistics.mean(recalls),
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/tfmm-pretraining", help="data and runs")
    parser.add_argument(
        "--data",
        choices=["demo", "redundant"],
        default="demo",
        help="the demo data, or the redundant hard variant",
    )
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    if args.data == "redundant":
        result = run_hard(args.work, seeds=args.seeds)
        for k in ("scratch", "pretrained", "recall@1"):
            print(
                f"{k}: {statistics.mean(result[k]):.3f} +- "
                f"{statistics.pstdev(result[k]):.3f} ({result[k]})"
            )
    else:
        print(run(args.work))
