"""Cross-modal search after contrastive pretraining: on the hard redundant data (the same
label in every modality), `tfmm pretrain --objective contrastive` of a text and an image
encoder on the training rows' pairs (no labels), then `tfmm evaluate`'s retrieval on the
held-out test rows: recall@1/5/10 of finding a row's image from its text, and back.
Two pretrainings, beside a random ranking and the untrained encoders (the pretrainer as
built, no step taken):

- from scratch: both encoders learn;
- LiT (locked-image tuning, Zhai et al. 2022): the image encoder starts from a shape
  classifier trained on another data seed's rows (`image_tower`, standing in for the
  ImageNet weights a user would load) and stays locked (`training.init_from` and
  `training.freeze_pretrained_epochs` = epochs); the text encoder learns to meet it.

    python -m benchmarks.run --only retrieval
    python -m benchmarks.retrieval --seeds 101 102 103
    python -m benchmarks.retrieval --choose --write     # the image pool: validation rows

On this data a text is paired with one image of the same class among the test rows'
ten classes, so a row's own image is one of about 60 of its class (600 test rows): a
search that finds the class ranks the pair within the top 60 or so, recall@10 is the
figure to read, and a perfect class match reaches about 10/60 on it (a random ranking
10/600). The recall on 600 of the training rows is reported too: from scratch, the
encoders can match the training pairs by what makes each one unique (its filler words,
its background) instead of by the class they share.

The image encoder is the `cnn` with `pooling: max` and `augment: true`; `--choose`
compares the pools on the tower's validation rows. The audio is left out to halve the
CPU time.
"""

import argparse
import os
import shutil

import numpy as np

NAME = "retrieval"
# Minutes on 2 CPU cores (quick: 200 rows, 2 epochs, 1 seed, a 1-epoch tower; full: the
# tower, 20 epochs on 4,200 rows, then 3 data seeds of 4,000 rows, 20 epochs from scratch
# and 20 with LiT).
MINUTES = (4, 70)
ROWS, EPOCHS = 4000, 20
MODALITIES = ("text", "image")
IMAGE_ENCODER = {"type": "cnn", "pooling": "max"}
# The locked image tower (LiT): a shape classifier trained on another data seed's rows,
# without augmentation and at Adam's usual 1e-3 (with `augment: true` at the quality
# benchmark's 3e-3 it had not left chance, 0.10, after 8 epochs; scratch run 2026-12-05).
TOWER_SEED, TOWER_ROWS, TOWER_EPOCHS, TOWER_LR = 999, 6000, 20, 1e-3
# The image pools `--choose` compares, on the tower's validation rows.
POOLINGS = ("avg", "max")
# Training rows the memorisation check searches (as many as the test rows).
TRAIN_ROWS = 600
IN_QUICK = False
KS = (1, 5, 10)
KINDS = {
    "scratch": "pretrained from scratch",
    "lit": "LiT (image locked at the tower)",
    "untrained": "untrained (as built)",
}


def _untrained(config_dict, test_csv):
    """Recall of the pretrainer as built (random encoders and projections)."""
    import keras

    import tfmm
    from tfmm.data import fit_text_vocabularies, make_dataset
    from tfmm.pretraining import build_pretrainer

    keras.utils.set_random_seed(0)
    config = tfmm.config_from_dict(config_dict)
    vocabularies = fit_text_vocabularies(config, tfmm.data.Manifest(config_dict["data"]["train"]))
    model = build_pretrainer(config, vocabularies, projection_dim=64)
    emb = model.predict(make_dataset(config, test_csv, vocabularies, with_labels=False), verbose=0)
    return _recalls(emb)


def _recalls(emb):
    from tfmm.pretraining import retrieval_recall

    return {f"{a}_to_{b}": retrieval_recall(emb[a], emb[b], KS) for a in emb for b in emb if a != b}


def retrieval_config(data, epochs, image_encoder=None):
    """The pretraining config: `hard_config`'s text and image inputs, the image through
    `image_encoder` (default `IMAGE_ENCODER`, the max-pooled cnn) with augmentation."""
    from benchmarks.pretraining import hard_config

    cfg = hard_config(data, epochs)
    cfg["inputs"] = [dict(i) for i in cfg["inputs"] if i["name"] in MODALITIES]
    for i in cfg["inputs"]:
        if i["name"] == "image":
            i.update(encoder=dict(image_encoder or IMAGE_ENCODER), augment=True)
    cfg["data"]["seed"] = 0
    return cfg


def _data(work, n, seed):
    from benchmarks.hard_data import make_hard_dataset

    data = os.path.join(work, f"hard_redundant_n{n}_seed{seed}")
    if not os.path.exists(os.path.join(data, "test.csv")):
        make_hard_dataset(data, "redundant", n=n, seed=seed)
    return data


def image_tower(work, pooling="max", seed=TOWER_SEED, n=TOWER_ROWS, epochs=TOWER_EPOCHS, log=print):
    """A finished `tfmm train` run of an image-only classifier (the retrieval config's
    image input, its cnn pooled by `pooling`) on data seed `seed`, none of whose rows the
    retrieval reads; reused when already finished in `work`. Returns (run directory,
    its best validation accuracy)."""
    import csv

    import keras

    import tfmm
    from benchmarks.pretraining import hard_config
    from tfmm.files import RunDir
    from tfmm.training import train

    data = _data(work, n, seed)
    run = os.path.join(work, f"retrieval_image_tower_{pooling}_{n}_{seed}_{epochs}")
    if not RunDir(run).is_finished():
        cfg = retrieval_config(data, epochs, dict(IMAGE_ENCODER, pooling=pooling))
        cfg["inputs"] = [dict(i, augment=False) for i in cfg["inputs"] if i["name"] == "image"]
        cfg["fusion"] = dict(hard_config(data, epochs)["fusion"], modality_dropout=0.0)
        cfg["training"]["learning_rate"] = TOWER_LR
        cfg["data"]["seed"] = seed
        shutil.rmtree(run, ignore_errors=True)
        keras.utils.clear_session()
        train(tfmm.config_from_dict(cfg), run, log=lambda *a: None, verbose=0)
    with open(RunDir(run).history) as f:
        val = max(float(r["val_accuracy"]) for r in csv.DictReader(f))
    log(f"retrieval image tower ({pooling}): {run}, best validation accuracy {val:.3f}")
    return run, val


def _pretrain(cfg, run):
    import keras

    import tfmm

    shutil.rmtree(run, ignore_errors=True)
    keras.utils.clear_session()
    tfmm.pretraining.pretrain(tfmm.config_from_dict(cfg), run, log=lambda *a: None, verbose=0)


def _first_rows(csv_path, rows):
    """A manifest of the first `rows` rows of `csv_path`, beside it."""
    import pandas as pd

    out = csv_path.replace(".csv", f"_first{rows}.csv")
    pd.read_csv(csv_path).iloc[:rows].to_csv(out, index=False)
    return out


def measure(work, seeds, n=ROWS, epochs=EPOCHS, tower=None, log=print):
    """Per data seed: test recall after pretraining from scratch, after LiT on `tower`
    (an image-only run; default `image_tower(work)`), and untrained; and the
    from-scratch recall on `TRAIN_ROWS` training rows."""
    import keras

    from tfmm.embeddings import retrieval_report

    tower, tower_val = (tower, None) if tower else image_tower(work, log=log)
    rows = []
    for seed in seeds:
        data = _data(work, n, seed)
        test = os.path.join(data, "test.csv")
        row = {"seed": seed, "tower_val_accuracy": tower_val}
        cfg = retrieval_config(data, epochs)
        scratch = os.path.join(work, f"retrieval_scratch_{n}_{seed}")
        _pretrain(cfg, scratch)
        row["scratch"] = retrieval_report(scratch, test, ks=KS)
        train_rows = _first_rows(os.path.join(data, "train.csv"), TRAIN_ROWS)
        row["scratch_train"] = retrieval_report(scratch, train_rows, ks=KS)
        cfg["training"].update(init_from=tower, freeze_pretrained_epochs=epochs)
        lit = os.path.join(work, f"retrieval_lit_{n}_{seed}")
        _pretrain(cfg, lit)
        row["lit"] = retrieval_report(lit, test, ks=KS)
        keras.utils.clear_session()
        row["untrained"] = _untrained(retrieval_config(data, epochs), test)
        rows.append(row)
        log(f"retrieval seed {seed}: {row}")
    return rows


def choose(work, log=print):
    """{pooling: the image tower's best validation accuracy} for each of `POOLINGS` (the
    tower's data seed; the retrieval's rows are not read)."""
    return {pooling: image_tower(work, pooling, log=log)[1] for pooling in POOLINGS}


def choice_markdown(out):
    best = max(out, key=out.get)
    return "\n".join(
        [
            f"The image cnn's global pool, chosen on the validation rows of the image "
            f"tower's data (hard redundant, data seed {TOWER_SEED}, {TOWER_ROWS:,} rows, "
            f"an image-only classifier, {TOWER_EPOCHS} epochs at {TOWER_LR:g}; ten "
            f"classes, chance 0.100):",
            "",
            "| image pool | best validation accuracy |",
            "|---|---|",
            *(f"| {p} | {v:.3f} |" for p, v in out.items()),
            "",
            f"Chosen: `{best}`.",
        ]
    )


def markdown(rows, n, epochs):
    directions = [k for k in rows[0]["scratch"] if "_to_" in k]
    lines = [
        f"Hard redundant data (`benchmarks/hard_data.py`, {n:,} rows each, data seeds "
        f"{[r['seed'] for r in rows]}); contrastive pretraining of a text and an image "
        f"encoder (the quality benchmark's textcnn; the `cnn` with `pooling: max` and "
        f"`augment: true`) on the training rows' pairs, no labels, {epochs} epochs, batch "
        f"32; LiT: the image encoder locked at a classifier trained on data seed "
        f"{TOWER_SEED}'s rows (`image_tower`; its best validation accuracy "
        f"{rows[0]['tower_val_accuracy'] or 0:.3f}, ten classes). Recall@k on the "
        f"{rows[0]['scratch']['n']} test rows of each seed, mean over seeds (per seed in "
        f"brackets for recall@10).",
        "",
        "| direction | encoders | recall@1 | recall@5 | recall@10 |",
        "|---|---|---|---|---|",
    ]
    for d in directions:
        for kind, name in KINDS.items():
            cells = [f"{np.mean([r[kind][d][f'recall@{k}'] for r in rows]):.3f}" for k in KS]
            if len(rows) > 1:
                cells[-1] += " (" + ", ".join(f"{r[kind][d]['recall@10']:.3f}" for r in rows) + ")"
            lines.append(f"| {d.replace('_to_', ' → ')} | {name} | " + " | ".join(cells) + " |")
    rnd = rows[0]["scratch"]["random"]
    lines.append(
        "| any | a random ranking | " + " | ".join(f"{rnd[f'recall@{k}']:.3f}" for k in KS) + " |"
    )
    t = [r["scratch_train"]["text_to_image"]["recall@10"] for r in rows]
    lines += [
        "",
        f"The same from-scratch encoders on {TRAIN_ROWS} of the training rows they were "
        f"pretrained on: text → image recall@10 {np.mean(t):.3f} "
        f"({', '.join(f'{x:.3f}' for x in t)}).",
    ]
    return "\n".join(lines)


def run(work, quick=False, log=print):
    from benchmarks.common import write_section

    if quick:
        tower = image_tower(work, n=300, epochs=1, log=log)[0]
        rows = measure(work, (101,), 200, 2, tower=tower, log=log)
    else:
        rows = measure(work, (101, 102, 103), ROWS, EPOCHS, log=log)
        write_section(
            "retrieval",
            markdown(rows, ROWS, EPOCHS),
            command="python -m benchmarks.run --only retrieval",
        )
    rnd = rows[0]["scratch"]["random"]["recall@10"]
    lit = np.mean([r["lit"]["text_to_image"]["recall@10"] for r in rows])
    scratch = np.mean([r["scratch"]["text_to_image"]["recall@10"] for r in rows])
    return {
        "ratio": float(lit / rnd),
        "goal": "> 1 (LiT text-to-image recall@10 over a random ranking's)",
        "lit_text_to_image_recall@10": float(lit),
        "scratch_text_to_image_recall@10": float(scratch),
        "random_recall@10": float(rnd),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-retrieval")
    p.add_argument("--seeds", nargs="+", type=int, default=[101, 102, 103])
    p.add_argument("--n", type=int, default=ROWS)
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument(
        "--choose", action="store_true", help="compare the image pools on validation rows"
    )
    p.add_argument("--write", action="store_true")
    args = p.parse_args(argv)
    if args.choose:
        name, text = "retrieval_choice", choice_markdown(choose(args.work))
    else:
        rows = measure(args.work, args.seeds, n=args.n, epochs=args.epochs)
        name, text = "retrieval", markdown(rows, args.n, args.epochs)
    print(text)
    if args.write:
        from benchmarks.common import cli_command, write_section

        write_section(name, text, command=cli_command("benchmarks.retrieval", argv))


if __name__ == "__main__":
    main()
