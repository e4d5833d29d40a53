"""Cross-modal search after contrastive pretraining: on the hard redundant data (the same
label in every modality), `tfmm pretrain --objective contrastive` on the training rows,
then `tfmm evaluate`'s retrieval on the held-out test rows: recall@1/5/10 of finding a
row's image (or clip) from its text, and back; beside a random ranking and the same
search with the untrained encoders (the pretrainer as built, no step taken).

    python -m benchmarks.run --only retrieval
    python -m benchmarks.retrieval --seeds 101 102 103

On this data a text is paired with one image of the same class among the test rows'
ten classes, so a row's own image is one of about 15 of its class: a search that finds
the class ranks the pair within the top 15 or so, and recall@10 is the figure to read.
"""

import argparse
import os
import shutil

import numpy as np

NAME = "retrieval"
# Minutes on 2 CPU cores (quick: 200 rows, 2 epochs, 1 seed; full: 3 data seeds, 1,000
# rows, 8 epochs).
MINUTES = (3, 15)
IN_QUICK = False
KS = (1, 5, 10)


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


def measure(work, seeds, n=1000, epochs=8, log=print):
    import keras
    import tfmm
    from benchmarks.hard_data import make_hard_dataset
    from benchmarks.pretraining import hard_config
    from tfmm.embeddings import retrieval_report

    rows = []
    for seed in seeds:
        data = os.path.join(work, f"hard_redundant_n{n}_seed{seed}")
        if not os.path.exists(os.path.join(data, "test.csv")):
            make_hard_dataset(data, "redundant", n=n, seed=seed)
        cfg = hard_config(data, epochs)
        cfg["data"]["seed"] = 0
        run = os.path.join(work, f"retrieval_pre_{n}_{seed}")
        shutil.rmtree(run, ignore_errors=True)
        keras.utils.clear_session()
        tfmm.pretraining.pretrain(tfmm.config_from_dict(cfg), run, log=lambda *a: None, verbose=0)
        test = os.path.join(data, "test.csv")
        trained = retrieval_report(run, test, ks=KS)
        keras.utils.clear_session()
        untrained = _untrained(cfg, test)
        rows.append({"seed": seed, "trained": trained, "untrained": untrained})
        log(f"retrieval seed {seed}: {trained}; untrained {untrained}")
    return rows


def markdown(rows, n, epochs):
    directions = [k for k in rows[0]["trained"] if "_to_" in k]
    lines = [
        f"Hard redundant data (`benchmarks/hard_data.py`, {n:,} rows each, data seeds "
        f"{[r['seed'] for r in rows]}); contrastive pretraining of the quality benchmark's "
        f"default encoders on the training rows, {epochs} epochs, text as the anchor; "
        f"recall@k on the {rows[0]['trained']['n']} test rows of each seed, mean over seeds.",
        "",
        "| direction | encoders | recall@1 | recall@5 | recall@10 |",
        "|---|---|---|---|---|",
    ]
    for d in directions:
        for kind in ("trained", "untrained"):
            cells = [np.mean([r[kind][d][f"recall@{k}"] for r in rows]) for k in KS]
            name = "pretrained" if kind == "trained" else "untrained (as built)"
            lines.append(
                f"| {d.replace('_to_', ' → ')} | {name} | "
                + " | ".join(f"{c:.3f}" for c in cells)
                + " |"
            )
    rnd = rows[0]["trained"]["random"]
    lines.append(
        "| any | a random ranking | " + " | ".join(f"{rnd[f'recall@{k}']:.3f}" for k in KS) + " |"
    )
    return "\n".join(lines)


def run(work, quick=False, log=print):
    from benchmarks.common import write_section

    seeds, n, epochs = ((101,), 200, 2) if quick else ((101, 102, 103), 1000, 8)
    rows = measure(work, seeds, n, epochs, log)
    if not quick:
        write_section(
            "retrieval",
            markdown(rows, n, epochs),
            command="python -m benchmarks.run --only retrieval",
        )
    t10 = np.mean([r["trained"]["text_to_image"]["recall@10"] for r in rows])
    rnd = rows[0]["trained"]["random"]["recall@10"]
    return {
        "ratio": float(t10 / rnd),
        "goal": "> 1 (text-to-image recall@10 over a random ranking's)",
        "text_to_image_recall@10": float(t10),
        "random_recall@10": float(rnd),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-retrieval")
    p.add_argument("--seeds", nargs="+", type=int, default=[101, 102, 103])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--write", action="store_true")
    args = p.parse_args(argv)
    rows = measure(args.work, args.seeds, epochs=args.epochs)
    text = markdown(rows, 1000, args.epochs)
    print(text)
    if args.write:
        from benchmarks.common import cli_command, write_section

        write_section(
            "retrieval",
            text,
            command=cli_command("benchmarks.retrieval", argv),
        )


if __name__ == "__main__":
    main()
