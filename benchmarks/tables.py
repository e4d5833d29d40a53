"""A real table: text beside numbers and categories, tfmm against scikit-learn.

    python -m benchmarks.run --only tables                    # 3 seeds, every model
    python -m benchmarks.tables --seeds 0 --models tfmm_default sklearn_stack
    python -m benchmarks.tables --choose --write              # optimizer, width: val rows

Data: `../shared/data/womens_clothing_reviews_1000.csv` (1,000 real product reviews; see
its README): predict `Recommended IND` (818 yes, 182 no) from the review's title and text,
the reviewer's age, the positive-feedback count and four categorical columns (division,
department, class, clothing id). `Rating` is left out (it is the same opinion).

Protocol: per seed a stratified 70/15/15 split. Every setting of every model (tfmm's
default text encoder, scikit-learn's C, learning rate and depth, the stack's meta-model)
is chosen on the validation rows; the test rows are read once per reported
configuration. Figures: test ROC-AUC and accuracy, mean ± std over seeds.

The peer is what a data scientist writes: TF-IDF (1-2 grams, sublinear tf) + logistic
regression on title + text, `HistGradientBoostingClassifier` on the table (categories
native, early stopping on 10% of the training rows), and the two stacked by a logistic
regression on their 5-fold out-of-fold training predictions; C, learning rate and depth
each chosen on validation AUC.
"""

import argparse
import itertools
import os
import shutil
import time

import numpy as np

NAME = "tables"
# Minutes on 2 CPU cores (quick, full). Too long for `--quick` (<= 15 min in all):
# run it by name (`--only tables`).
MINUTES = (9, 25)
IN_QUICK = False
DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "womens_clothing_reviews_1000.csv"
)
TARGET = "Recommended IND"
NUMERIC = ["Age", "Positive Feedback Count"]
CATEGORICAL = ["Division Name", "Department Name", "Class Name", "Clothing ID"]
TEXTS = ["Title", "Review Text"]
EPOCHS = 20
SEEDS = (0, 1, 2)
# The headline pair (benchmarks/protocol.py: data seeds x initialisation seeds, paired):
# tfmm's default is trained from INIT_SEEDS on each split; the other rows from the first
# only. The scikit-learn stack runs once per split (its seeds only move the boosting's
# early-stopping rows and the folds, and it costs 16 stacks a run), and each of tfmm's
# runs on a split is paired with it.
HEADLINE = ("tfmm_default", "sklearn_stack")
INIT_SEEDS = (0, 1, 2)


def split(seed, out_dir):
    """Writes train/val/test CSVs of one stratified 70/15/15 split; returns the paths."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(DATA)
    frame = frame.drop(columns=[frame.columns[0]])
    frame[TARGET] = frame[TARGET].map({0: "no", 1: "yes"})
    train, rest = train_test_split(frame, test_size=0.3, stratify=frame[TARGET], random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=rest[TARGET], random_state=seed)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, part in (("train", train), ("val", val), ("test", test)):
        paths[name] = os.path.join(out_dir, f"{name}.csv")
        part.to_csv(paths[name], index=False)
    return paths


def tfmm_config(
    paths,
    seed,
    text_encoder="tfidf",
    modalities=("text", "tabular"),
    epochs=EPOCHS,
    tabular_encoder="mlp",
):
    inputs = []
    if "text" in modalities:
        inputs += [
            {
                "name": "title",
                "type": "text",
                "column": "Title",
                "optional": True,
                "encoder": {"type": text_encoder},
            },
            {
                "name": "review",
                "type": "text",
                "column": "Review Text",
                "optional": True,
                "encoder": {"type": text_encoder},
            },
        ]
    if "tabular" in modalities:
        inputs.append(
            {
                "name": "facts",
                "type": "tabular",
                "numeric": NUMERIC,
                "categorical": CATEGORICAL,
                "encoder": {"type": tabular_encoder},
            }
        )
    return {
        "name": "tables",
        "inputs": inputs,
        "outputs": [{"name": "recommended", "type": "binary", "column": TARGET}],
        "data": {**paths, "seed": seed},
        "training": {"epochs": epochs},
    }


# name -> (text encoder, modalities[, tabular encoder]); None: the default (no key)
TFMM_MODELS = {
    "tfmm_default": (None, ("text", "tabular")),
    "tfmm_textcnn": ("textcnn", ("text", "tabular")),
    "tfmm_tfidf": ("tfidf", ("text", "tabular")),
    "tfmm_text_only": (None, ("text",)),
    "tfmm_tabular_only": (None, ("tabular",)),
    "tfmm_ft_transformer": (None, ("text", "tabular"), "ft_transformer"),
    "tfmm_tabular_only_ft_transformer": (None, ("tabular",), "ft_transformer"),
}


def run_tfmm(name, paths, run_dir, seed, training=None, text_encoder=None):
    """{"val_auc", "test_auc", "test_accuracy"} of one tfmm model (the default text
    encoder when the model's is None), with `training` keys over the defaults and the
    text inputs' encoder `text_encoder` (a config mapping) when given; without a "test"
    entry in `paths`, {"val_auc"} only (no test row is read)."""
    import tfmm
    from tfmm.training import train
    from tfmm.training.inference import evaluate

    encoder, modalities, *tabular = TFMM_MODELS[name]
    cfg = tfmm_config(
        paths, seed, encoder or "textcnn", modalities, tabular_encoder=(tabular or ["mlp"])[0]
    )
    cfg["training"].update(training or {})
    for i in cfg["inputs"]:
        # The user's config: no encoder keys where the model takes the default.
        if (i["type"] == "text" and encoder is None) or (i["type"] == "tabular" and not tabular):
            i.pop("encoder", None)
        if i["type"] == "text" and text_encoder is not None:
            i["encoder"] = dict(text_encoder)
    shutil.rmtree(run_dir, ignore_errors=True)
    config = tfmm.config_from_dict(cfg)
    model, metrics = train(config, run_dir, log=lambda *a: None, verbose=0)
    _, config, vocabularies = tfmm.training.inference.load_run(run_dir)
    val = evaluate(model, config, paths["val"], vocabularies)
    if "test" not in paths:
        return {"val_auc": val["recommended"]["auroc"]}
    return {
        "val_auc": val["recommended"]["auroc"],
        "test_auc": metrics["recommended"]["auroc"],
        "test_accuracy": metrics["recommended"]["accuracy"],
    }


# The settings `--choose` compares for the default fused model on validation rows: the
# optimizer and learning rate at the bag of n-grams' former width (64), then its width
# at the chosen optimizer (`training.optimizer: auto` and `TfidfConfig.units` took the
# winners). (optimizer, learning rate, tfidf units)
CHOICES = (
    ("adamw", 3e-3, 64),
    ("sgd", 0.1, 64),
    ("sgd", 0.03, 64),
    ("sgd", 0.01, 64),
    ("sgd", 0.03, 256),
    ("sgd", 0.03, 512),
)
CHOICE_INITS = (0, 1)


def choose(work, seeds=SEEDS, log=print):
    """Validation ROC-AUC of the default fused model under each setting of `CHOICES`,
    per split seed × `CHOICE_INITS`; reads no test row."""
    rows = {}
    for seed in seeds:
        paths = split(seed, os.path.join(work, f"data_{seed}"))
        paths = {k: v for k, v in paths.items() if k != "test"}
        for init in CHOICE_INITS:
            for optimizer, lr, units in CHOICES:
                start = time.monotonic()
                r = run_tfmm(
                    "tfmm_default",
                    paths,
                    os.path.join(work, f"choose_{optimizer}_{lr}_{units}_{seed}_{init}"),
                    seed + 100 * init,
                    {"optimizer": optimizer, "learning_rate": lr},
                    text_encoder={"type": "tfidf", "units": units},
                )
                rows.setdefault((optimizer, lr, units), []).append(r["val_auc"])
                log(
                    f"tables choose seed {seed} init {init} {optimizer} {lr} units {units}: "
                    f"val_auc {r['val_auc']:.3f} ({time.monotonic() - start:.0f} s)"
                )
    return rows


def choice_markdown(rows, seeds):
    lines = [
        "| optimizer | learning rate | tfidf units | runs | val ROC-AUC (mean ± std) | per run |",
        "|---|---|---|---|---|---|",
    ]
    best = max(rows, key=lambda k: np.mean(rows[k]))
    for (optimizer, lr, units), v in rows.items():
        mark = "**" if (optimizer, lr, units) == best else ""
        lines.append(
            f"| {mark}{optimizer}{mark} | {lr:g} | {units} | {len(v)} | {np.mean(v):.3f} ± "
            f"{np.std(v):.3f} | {' / '.join(f'{x:.3f}' for x in v)} |"
        )
    lines.append(
        f"\nThe default fused model (tfidf title and review + the table's mlp, concat), "
        f"split seeds {list(seeds)} × initialisation seeds {list(CHOICE_INITS)}, "
        f"validation rows only (no test row is read). Best: {best[0]} at {best[1]:g}, "
        f"tfidf units {best[2]}."
    )
    return "\n".join(lines)


def _frames(paths):
    import pandas as pd

    frames = {k: pd.read_csv(v) for k, v in paths.items()}
    for f in frames.values():
        f["text"] = f["Title"].fillna("") + " . " + f["Review Text"].fillna("")
        for c in CATEGORICAL:
            f[c] = f[c].astype(str)
    return frames


def _text_model(c):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(C=c, max_iter=2000),
    )


def _text_on_column(c):
    """The text model reading the `text` column of a DataFrame (inside the stack)."""
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        make_column_transformer((TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), "text")),
        LogisticRegression(C=c, max_iter=2000),
    )


def _table_model(lr, depth, train_frame, random_state=0):
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = make_column_transformer(
        (
            OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
            ),
            CATEGORICAL,
        ),
        ("passthrough", NUMERIC),
    )
    return make_pipeline(
        encode,
        HistGradientBoostingClassifier(
            # Early stopping on 10% of the training rows, as a data scientist would: without
            # it, 200 rounds at 0.1 overfit 700 rows and drag the stack below its text model.
            learning_rate=lr,
            max_depth=depth,
            max_iter=500,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=20,
            scoring="roc_auc",
            categorical_features=list(range(len(CATEGORICAL))),
            random_state=random_state,
        ),
    )


def run_sklearn(paths, seed, init=0):
    """{model: {"val_auc", "test_auc", "test_accuracy"}} of the text, table and stacked
    scikit-learn models, each tuned on validation AUC; `init` seeds the boosting's
    early-stopping split and the stack's folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.ensemble import StackingClassifier
    from sklearn.model_selection import StratifiedKFold

    f = _frames(paths)
    y = {k: (v[TARGET] == "yes").astype(int).to_numpy() for k, v in f.items()}
    table_cols = NUMERIC + CATEGORICAL

    def tuned(make, grid, x):
        best = None
        for params in grid:
            model = make(*params).fit(x(f["train"]), y["train"])
            auc = roc_auc_score(y["val"], model.predict_proba(x(f["val"]))[:, 1])
            if best is None or auc > best[0]:
                best = (auc, params, model)
        return best

    def text_x(frame):
        return frame["text"]

    def table_x(frame):
        return frame[table_cols]

    text = tuned(_text_model, [(c,) for c in (0.3, 1.0, 3.0, 10.0, 30.0)], text_x)
    table = tuned(
        lambda lr, d: _table_model(lr, d, f["train"], init),
        list(itertools.product((0.03, 0.1), (2, 3, None))),
        table_x,
    )
    out = {}
    for name, (val_auc, _, model), x in (
        ("sklearn_text", text, text_x),
        ("sklearn_table", table, table_x),
    ):
        p = model.predict_proba(x(f["test"]))[:, 1]
        out[name] = {
            "val_auc": val_auc,
            "test_auc": roc_auc_score(y["test"], p),
            "test_accuracy": accuracy_score(y["test"], p > 0.5),
        }
    # The stack: scikit-learn's StackingClassifier (base models' 5-fold out-of-fold
    # probabilities -> logistic regression), its own C, learning rate and depth chosen on
    # validation AUC.
    both = ["text"] + table_cols
    best = None
    for c, (lr, depth) in itertools.product(
        (1.0, 3.0, 10.0, 30.0), itertools.product((0.03, 0.1), (2, None))
    ):
        stack = StackingClassifier(
            [("text", _text_on_column(c)), ("table", _table_model(lr, depth, f["train"], init))],
            final_estimator=LogisticRegression(),
            stack_method="predict_proba",
            cv=StratifiedKFold(5, shuffle=True, random_state=seed + 100 * init),
        )
        stack.fit(f["train"][both], y["train"])
        auc = roc_auc_score(y["val"], stack.predict_proba(f["val"][both])[:, 1])
        if best is None or auc > best[0]:
            best = (auc, stack)
    p = best[1].predict_proba(f["test"][both])[:, 1]
    out["sklearn_stack"] = {
        "val_auc": best[0],
        "test_auc": roc_auc_score(y["test"], p),
        "test_accuracy": accuracy_score(y["test"], p > 0.5),
    }
    return out


def measure(work, models, seeds, log=print, init_seeds=INIT_SEEDS):
    try:
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            f"the tables benchmark needs scikit-learn and pandas: pip install -e '.[bench]' ({e})"
        ) from None
    if not os.path.exists(DATA):
        raise RuntimeError(
            f"the tables benchmark reads {os.path.abspath(DATA)} (shared/data "
            f"beside the checkout); not found"
        )
    rows = {}
    for seed in seeds:
        paths = split(seed, os.path.join(work, f"data_{seed}"))
        for init in init_seeds:
            if init == init_seeds[0] and any(m.startswith("sklearn") for m in models):
                start = time.monotonic()
                for name, r in run_sklearn(paths, seed, init).items():
                    if name in models:
                        rows.setdefault(name, []).append({**r, "split": seed, "init": init})
                        log(
                            f"tables seed {seed} init {init} {name}: {_fmt(r)} "
                            f"({time.monotonic() - start:.0f} s)"
                        )
            for name in models:
                if name.startswith("sklearn") or (init != init_seeds[0] and name != HEADLINE[0]):
                    continue
                start = time.monotonic()
                # data.seed: the split's seed for the first init (as before), then others.
                r = run_tfmm(
                    name,
                    paths,
                    os.path.join(work, f"run_{name}_{seed}_{init}"),
                    seed + 100 * init,
                )
                rows.setdefault(name, []).append({**r, "split": seed, "init": init})
                log(
                    f"tables seed {seed} init {init} {name}: {_fmt(r)} "
                    f"({time.monotonic() - start:.0f} s)"
                )
    return rows


def _fmt(r):
    return " ".join(f"{k} {v:.3f}" for k, v in r.items() if k not in ("split", "init"))


LABELS = {
    "sklearn_text": "scikit-learn: text (TF-IDF + LR)",
    "sklearn_table": "scikit-learn: table (gradient boosting)",
    "sklearn_stack": "**scikit-learn: stack** (the mark)",
    "tfmm_default": "**tfmm default** (no encoder keys: tfidf + mlp, concat; SGD 0.03)",
    "tfmm_tfidf": "tfmm, the same model with `encoder: tfidf` written out (a replicate)",
    "tfmm_textcnn": "tfmm, textcnn for the text",
    "tfmm_text_only": "tfmm, text only (title + review, tfidf; SGD 0.03)",
    "tfmm_tabular_only": "tfmm, table only (mlp; AdamW 3e-3)",
    "tfmm_ft_transformer": "tfmm, ft_transformer for the table",
    "tfmm_tabular_only_ft_transformer": "tfmm, table only (ft_transformer)",
}


def markdown(rows, seeds):
    from benchmarks.protocol import paired_interval

    lines = [
        "| model | runs | val ROC-AUC | test ROC-AUC | test accuracy |",
        "|---|---|---|---|---|",
    ]
    order = [m for m in ALL_MODELS if m in rows] + [m for m in rows if m not in ALL_MODELS]
    for name, rs in ((m, rows[m]) for m in order):
        cells = []
        for key in ("val_auc", "test_auc", "test_accuracy"):
            v = np.array([r[key] for r in rs])
            cells.append(f"{v.mean():.3f} ± {v.std():.3f}")
        lines.append(f"| {LABELS.get(name, name)} | {len(rs)} | " + " | ".join(cells) + " |")
    lines.append(
        f"\nSplit seeds {list(seeds)}: per seed a stratified 70/15/15 split of the 1,000 "
        f"rows (700/150/150); tfmm's default trained from {len(INIT_SEEDS)} "
        f"initialisation seeds on each split, the other rows once per split."
    )
    a, b = HEADLINE
    if a in rows and b in rows:
        key = {(r["split"], r["init"]): r["test_auc"] for r in rows[b]}
        # The peer's run with the same initialisation seed, else its one run on the split.
        pairs = [
            (key.get((r["split"], r["init"]), key.get((r["split"], 0))), r["test_auc"])
            for r in rows[a]
            if (r["split"], r["init"]) in key or (r["split"], 0) in key
        ]
        if pairs:
            d, half = paired_interval([p[0] for p in pairs], [p[1] for p in pairs])
            lines.append(
                f"\nPaired difference in test ROC-AUC, tfmm default - scikit-learn stack: "
                f"**{d:+.3f}** (95% t interval {d - half:+.3f} to {d + half:+.3f}, "
                f"{len(pairs)} runs of tfmm, each against the stack on its split)."
            )
    return "\n".join(lines)


# The reported rows: the headline pair and each library's single modalities. The other
# encoders (tfmm_textcnn, tfmm_ft_transformer, ...) validated below the defaults when
# those were chosen; `--models` runs them.
ALL_MODELS = [
    "sklearn_text",
    "sklearn_table",
    "sklearn_stack",
    "tfmm_default",
    "tfmm_text_only",
    "tfmm_tabular_only",
]


def run(work, quick=False):
    from benchmarks.common import write_section

    seeds = SEEDS[:1] if quick else SEEDS
    rows = measure(work, ALL_MODELS, seeds)
    if not quick:
        write_section(
            "tables", markdown(rows, seeds), command="python -m benchmarks.run --only tables"
        )
    fused = float(np.mean([r["test_auc"] for r in rows["tfmm_default"]]))
    stack = float(np.mean([r["test_auc"] for r in rows["sklearn_stack"]]))
    return {
        "ratio": fused / stack,
        "goal": ">= 1 (tfmm default vs scikit-learn stack, test ROC-AUC)",
        "tfmm_default": fused,
        "sklearn_stack": stack,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--models", nargs="+", default=ALL_MODELS)
    p.add_argument("--work", default="/tmp/tfmm_bench_tables")
    p.add_argument(
        "--write",
        action="store_true",
        help="rewrite the table in BENCHMARKS.md (all models, 3 seeds)",
    )
    p.add_argument(
        "--choose",
        action="store_true",
        help="compare the settings of CHOICES on validation rows (section tables_choice)",
    )
    p.add_argument(
        "--init-seeds",
        type=int,
        nargs="+",
        default=list(INIT_SEEDS),
        help="initialisation seeds of the headline pair on each split",
    )
    args = p.parse_args(argv)
    if args.choose:
        section = "tables_choice"
        text = choice_markdown(choose(args.work, args.seeds), args.seeds)
    else:
        section = "tables"
        text = markdown(
            measure(args.work, args.models, args.seeds, init_seeds=tuple(args.init_seeds)),
            args.seeds,
        )
    print(text)
    if args.write:
        from benchmarks.common import cli_command, write_section

        write_section(
            section,
            text,
            command=cli_command("benchmarks.tables", argv),
        )


if __name__ == "__main__":
    main()
