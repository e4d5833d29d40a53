"""Model quality on hard data: tfmm's default model against the hand-written peer under
the protocol of `benchmarks/protocol.py`, and tfmm's other recipes and each single
modality for exploration.

    python -m benchmarks.run --only quality                       # the protocol, both variants
    python -m benchmarks.quality --protocol --variants complementary
    python -m benchmarks.quality --seeds 0 --variants complementary --models peer cnn

Data: `benchmarks.hard_data` (complementary: 12 classes, one factor per modality;
redundant: 10 classes, the same label in every modality), 1,000 rows (700 train), 24
epochs (the README recipe's budget), batch 32. The protocol (`--protocol`, and the
benchmark run by `benchmarks.run`) regenerates the data for each data seed, chooses each
model's learning rate on validation rows from one grid, freezes the choice, then reads
the test rows once per data seed × initialisation seed, and writes its BENCHMARKS.md
section per variant. Without `--protocol` the models named are trained at the default
learning rate and their test figures printed (mean ± std over seeds, and on the
complementary variant how well each model reads each modality's factor): exploration,
not a reported figure.
"""

import argparse
import os
import shutil
import time

import numpy as np

NAME = "quality"
# Minutes on 2 CPU cores (quick, full: the protocol on both variants, 60 training runs
# of about 2 min). Too long for `--quick` (<= 15 min in all): run it by name
# (`--only quality`).
MINUTES = (6, 150)
IN_QUICK = False
# The budget of every model, the README recipe's `training.epochs` (tests/test_readme.py).
EPOCHS = 24
# The README recipe's (examples/tri_modal.yaml) learning rate, for every tfmm model here.
LEARNING_RATE = 3e-3
FACTORS = ("shape", "word", "mood")


def _inputs(image_encoder, audio_encoder):
    return [
        {
            "name": "text",
            "type": "text",
            "column": "caption",
            "encoder": {
                "type": "textcnn",
                "vocab_size": 5000,
                "sequence_length": 32,
                "embedding_dim": 64,
                "kernel_sizes": [3, 4, 5],
                "filters": 64,
                "dropout": 0.3,
            },
        },
        {
            "name": "image",
            "type": "image",
            "column": "image_path",
            "image_size": 64,
            "resize": "pad",
            "encoder": image_encoder,
        },
        {
            "name": "audio",
            "type": "audio",
            "column": "audio_path",
            "sample_rate": 16000,
            "clip_seconds": 2.0,
            "resample": True,
            "encoder": audio_encoder,
        },
    ]


# name -> (image encoder, audio encoder, fusion, modalities[, {augment: inputs, training:
# keys}])
MODELS = {
    # examples/tri_modal.yaml as it stood (ResNet50 from scratch, LSTM), normalize on.
    "readme_resnet_lstm": (
        {"type": "resnet50", "batchnorm_momentum": 0.9},
        {"type": "lstm", "num_mel_bins": 40, "units": [64]},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "modality_dropout": 0.0,
        },
        ("text", "image", "audio"),
    ),
    # The README recipe (examples/tri_modal.yaml), modality dropout 0.3 included.
    "cnn": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "modality_dropout": 0.3,
        },
        ("text", "image", "audio"),
    ),
    # The default at other modality-dropout rates.
    "cnn_modality_dropout_0.5": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "modality_dropout": 0.5,
        },
        ("text", "image", "audio"),
    ),
    # The default with MobileNetV3-Small (from scratch: no weights offline) for images.
    "mobilenet_cnn": (
        {"type": "mobilenet", "variant": "small"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "modality_dropout": 0.3,
        },
        ("text", "image", "audio"),
    ),
    # The recipe as it stood before modality dropout became the default.
    "cnn_no_modality_dropout": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "modality_dropout": 0.0,
        },
        ("text", "image", "audio"),
    ),
    # The recipes of the learning issue on top of the recipe without modality dropout.
    "cnn_gradient_blending": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "auxiliary_loss_weight": 0.5,
            "balance": "gradient_blending",
            "modality_dropout": 0.0,
        },
        ("text", "image", "audio"),
    ),
    "cnn_aux_augment": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "auxiliary_loss_weight": 0.5,
            "modality_dropout": 0.2,
        },
        ("text", "image", "audio"),
        {
            "augment": ("text", "image"),
            "training": {"label_smoothing": 0.1, "warmup_epochs": 1, "lr_schedule": "cosine"},
        },
    ),
    # Balanced training, one recipe at a time on top of the default.
    "cnn_aux": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "auxiliary_loss_weight": 0.5,
            "modality_dropout": 0.0,
        },
        ("text", "image", "audio"),
    ),
    "cnn_aux_modality_dropout": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "auxiliary_loss_weight": 0.5,
            "modality_dropout": 0.3,
        },
        ("text", "image", "audio"),
    ),
    # The other fusion strategies, each at its own defaults (`fusion: {type: ...}`).
    "cnn_gated": ({"type": "cnn"}, {"type": "cnn"}, {"type": "gated"}, ("text", "image", "audio")),
    "cnn_cross_attention": (
        {"type": "cnn"},
        {"type": "cnn"},
        {"type": "cross_attention"},
        ("text", "image", "audio"),
    ),
    "cnn_single_stream": (
        {"type": "cnn"},
        {"type": "cnn"},
        {"type": "single_stream"},
        ("text", "image", "audio"),
    ),
    # cross_attention with a 1-epoch linear warmup and cosine decay (its default warmup,
    # `auto`, is the same epoch with a constant rate after it).
    "cnn_cross_attention_cosine": (
        {"type": "cnn"},
        {"type": "cnn"},
        {"type": "cross_attention"},
        ("text", "image", "audio"),
        {"training": {"warmup_epochs": 1, "lr_schedule": "cosine"}},
    ),
    "cnn_late": ({"type": "cnn"}, {"type": "cnn"}, {"type": "late"}, ("text", "image", "audio")),
    # The default with a 1-epoch linear warmup and cosine decay.
    "cnn_warmup_cosine": (
        {"type": "cnn"},
        {"type": "cnn"},
        {
            "type": "concat",
            "hidden_units": [128],
            "dropout": 0.2,
            "normalize": True,
            "modality_dropout": 0.3,
        },
        ("text", "image", "audio"),
        {"training": {"warmup_epochs": 1, "lr_schedule": "cosine"}},
    ),
    "cnn_text_only": ({"type": "cnn"}, {"type": "cnn"}, None, ("text",)),
    "cnn_image_only": ({"type": "cnn"}, {"type": "cnn"}, None, ("image",)),
    "cnn_audio_only": ({"type": "cnn"}, {"type": "cnn"}, None, ("audio",)),
}


def _macro_f1(y, p, k):
    f1 = []
    for c in range(k):
        tp = np.sum((p == c) & (y == c))
        prec = tp / max(np.sum(p == c), 1)
        rec = tp / max(np.sum(y == c), 1)
        f1.append(0.0 if tp == 0 else 2 * prec * rec / (prec + rec))
    return float(np.mean(f1))


def factor_accuracy(y, probs, names):
    """Complementary variant: how well a model reads each modality's factor. Sums the
    predicted probabilities over the classes that share a shape, word or mood (labels are
    `shape-word-mood`) and compares the argmax with the true factor; chance 1/3, 1/2, 1/2.
    `probs` may be one-hot (a model that gives labels only)."""
    out = {}
    parts = [n.split("-") for n in names]
    for i, factor in enumerate(("shape", "word", "mood")):
        values = sorted({p[i] for p in parts})
        summed = np.stack(
            [probs[:, [j for j, p in enumerate(parts) if p[i] == v]].sum(-1) for v in values], -1
        )
        truth = np.array([values.index(parts[k][i]) for k in y])
        out[factor] = float(np.mean(summed.argmax(-1) == truth))
    return out


def _tfmm_factors(run_dir):
    from tfmm.training.inference import load_run, predict_arrays

    model, config, vocabularies = load_run(run_dir)
    preds, targets = predict_arrays(
        model, config, config.resolve_path(config.data.test), vocabularies, with_labels=True
    )
    return factor_accuracy(targets["label"], preds["label"], config.outputs[0].labels)


def config_dict(name, data_dir, seed):
    """The config (a dict) of model `name` on the hard data in `data_dir`."""
    image, audio, fusion, modalities, *extra = MODELS[name]
    extra = extra[0] if extra else {}
    inputs = [
        dict(i, augment=i["name"] in extra.get("augment", ()))
        for i in _inputs(image, audio)
        if i["name"] in modalities
    ]
    cfg = {
        "name": name,
        "inputs": inputs,
        "fusion": fusion
        or {"type": "concat", "hidden_units": [128], "dropout": 0.2, "normalize": True},
        "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
        "data": {s: os.path.join(data_dir, f"{s}.csv") for s in ("train", "val", "test")},
        "training": {"epochs": EPOCHS, "learning_rate": LEARNING_RATE, **extra.get("training", {})},
    }
    cfg["data"].update({"batch_size": 32, "seed": seed})
    return cfg


def run_tfmm(name, data_dir, run_dir, seed):
    import keras

    import tfmm
    from tfmm.training import train

    cfg = config_dict(name, data_dir, seed)
    keras.utils.clear_session()
    shutil.rmtree(run_dir, ignore_errors=True)  # a rerun trains again
    _, metrics = train(tfmm.config_from_dict(cfg), run_dir, log=lambda *a: None, verbose=0)
    m = metrics["label"]
    factors = _tfmm_factors(run_dir) if "complementary" in data_dir else {}
    return m["accuracy"], m["macro_f1"], factors


def run_peer(data_dir, seed):
    import keras

    from benchmarks.peer import train_peer

    keras.utils.clear_session()
    y, p, names = train_peer(
        *(os.path.join(data_dir, f"{s}.csv") for s in ("train", "val", "test")),
        epochs=EPOCHS,
        seed=seed,
    )
    factors = (
        factor_accuracy(y, np.eye(len(names))[p], names) if "complementary" in data_dir else {}
    )
    return float(np.mean(y == p)), _macro_f1(y, p, len(names)), factors


def measure(work, variants, models, seeds, log=print):
    from benchmarks.hard_data import make_hard_dataset

    table = {}
    for variant in variants:
        data_dir = os.path.join(work, f"hard_{variant}")
        if not os.path.exists(os.path.join(data_dir, "test.csv")):
            make_hard_dataset(data_dir, variant, n=1000, seed=0)
        for name in models:
            scores = []
            for seed in seeds:
                t = time.time()
                if name == "peer":
                    acc, f1, factors = run_peer(data_dir, seed)
                else:
                    acc, f1, factors = run_tfmm(
                        name, data_dir, os.path.join(work, "runs", variant, f"{name}-{seed}"), seed
                    )
                scores.append((acc, f1, *(factors.get(k, np.nan) for k in FACTORS)))
                read = "".join(f", {k} {v:.3f}" for k, v in factors.items())
                log(
                    f"{variant} {name} seed {seed}: accuracy {acc:.3f}, macro-F1 {f1:.3f}"
                    f"{read} ({time.time() - t:.0f} s)"
                )
            table[(variant, name)] = np.array(scores)
    return table


def markdown(table, seeds):
    lines = [
        f"Hard data (`benchmarks/hard_data.py`, 1,000 rows, 700 for training), "
        f"{EPOCHS} epochs, batch 32, AdamW {LEARNING_RATE:g}, tfmm's defaults "
        f"otherwise (the best epoch on validation accuracy, `monitor: auto`), seeds "
        f"{list(seeds)}; test accuracy and macro-F1, mean ± std over seeds.",
        "",
        "| variant | model | accuracy | macro-F1 | shape / word / mood read |",
        "|---|---|---|---|---|",
    ]
    for (variant, name), s in table.items():
        read = (
            ""
            if np.isnan(s[0, 2])
            else " / ".join(f"{s[:, k].mean():.2f}" for k in range(2, 2 + len(FACTORS)))
        )
        lines.append(
            f"| {variant} | {name} | {s[:, 0].mean():.3f} ± {s[:, 0].std():.3f} | "
            f"{s[:, 1].mean():.3f} ± {s[:, 1].std():.3f} | {read} |"
        )
    lines += [
        "",
        "(shape / word / mood read: the complementary variant's factor accuracy, "
        "the predicted probabilities summed over the classes that share a factor; "
        "chance 0.33 / 0.50 / 0.50.)",
    ]
    return "\n".join(lines)


def protocol(
    work,
    variant,
    data_seeds=None,
    init_seeds=None,
    learning_rates=None,
    n=1000,
    log=print,
):
    """The default model (`cnn`, the README recipe) against the peer on `variant` under
    `benchmarks.protocol`: each one's learning rate chosen on validation rows from the
    same grid, frozen, then tested once per data seed × initialisation seed. Returns
    `run_protocol`'s result."""
    import json

    from benchmarks import protocol as p
    from benchmarks.hard_data import make_hard_dataset

    data_seeds = tuple(data_seeds or p.DATA_SEEDS)
    init_seeds = tuple(init_seeds or p.INIT_SEEDS)
    grid = [f"{lr:g}" for lr in (learning_rates or p.LEARNING_RATES)]
    folder = os.path.join(work, "protocol", f"{variant}-n{n}-e{EPOCHS}")

    def data(d):
        path = os.path.join(work, f"hard_{variant}_n{n}_seed{d}")
        if not os.path.exists(os.path.join(path, "test.csv")):
            make_hard_dataset(path, variant, n=n, seed=d)
        return path

    def fit(model, lr, d, s):
        import keras

        data_dir = data(d)
        run_dir = os.path.join(folder, "runs", f"{model}-lr{lr}-data{d}-init{s}")
        shutil.rmtree(run_dir, ignore_errors=True)
        keras.utils.clear_session()
        if model == "peer":
            from benchmarks.peer import fit_peer

            os.makedirs(run_dir)
            val, _ = fit_peer(
                *(os.path.join(data_dir, f"{x}.csv") for x in ("train", "val")),
                epochs=EPOCHS,
                seed=s,
                learning_rate=float(lr),
                save=os.path.join(run_dir, "peer.keras"),
            )
        else:
            import tfmm
            from tfmm.training import train

            cfg = config_dict(model, data_dir, s)
            cfg["training"]["learning_rate"] = float(lr)
            cfg["data"]["cache"] = "memory"  # decoded once: the same batches, faster
            del cfg["data"]["test"]  # no test row during training or selection
            train(tfmm.config_from_dict(cfg), run_dir, log=lambda *a: None, verbose=0)
            with open(os.path.join(run_dir, "best.json")) as f:
                val = json.load(f)["value"]
        return val, json.dumps([run_dir, data_dir])

    def test(model, handle):
        import keras

        run_dir, data_dir = json.loads(handle)
        test_csv = os.path.join(data_dir, "test.csv")
        keras.utils.clear_session()
        if model == "peer":
            from benchmarks.peer import predict_peer

            y, pred, _ = predict_peer(
                os.path.join(data_dir, "train.csv"), test_csv, os.path.join(run_dir, "peer.keras")
            )
            return float(np.mean(y == pred))
        from tfmm.training.inference import load_run, predict_arrays

        model_, config, vocabularies = load_run(run_dir)
        preds, targets = predict_arrays(model_, config, test_csv, vocabularies, with_labels=True)
        return float(np.mean(preds["label"].argmax(-1) == targets["label"]))

    from benchmarks.run import commit

    return p.run_protocol(
        {"cnn": grid, "peer": grid},
        fit,
        test,
        folder,
        data_seeds,
        init_seeds,
        log=log,
        rev=commit(),
    )


def protocol_markdown(result, variant, n=1000, minutes=None):
    from benchmarks import protocol as p

    d = len(result["test"]["cnn"])
    s = len(result["test"]["cnn"][0])
    took = f" ({minutes:.0f} min)" if minutes else ""
    return "\n".join(
        [
            f"**{variant.capitalize()}** (`benchmarks/hard_data.py`, {n:,} rows each: 70% "
            f"train, 15% validation, 15% test), {d} data seeds × {s} initialisation "
            f"seeds, {EPOCHS} epochs, batch 32. `cnn` is the default model (the README "
            f"recipe); `peer` the hand-written Keras model (`benchmarks/peer.py`: its best "
            f"validation epoch, the same input sizes). Each one's learning rate chosen on "
            f"validation accuracy from the same grid, frozen before any test row was read "
            f"(`benchmarks/protocol.py`){took}.",
            "",
            p.markdown(result, "cnn", "peer", describe=lambda lr: f"lr {lr}"),
        ]
    )


def run(work, quick=False):
    """The protocol on both variants (quick: 2 data seeds × 1 init seed, 2 rates, 200 rows,
    4 epochs: the code path, not a figure)."""
    from benchmarks.common import write_section
    from benchmarks.run import commit

    global EPOCHS
    rev = commit()
    for variant in ("complementary", "redundant"):
        if quick:
            EPOCHS, saved = 4, EPOCHS
            try:
                result = protocol(work, variant, (101, 102), (0,), (3e-3, 1e-3), n=200)
            finally:
                EPOCHS = saved
            continue
        result = protocol(work, variant)
        command = "python -m benchmarks.run --only quality"
        write_section(
            f"quality_protocol_{variant}",
            protocol_markdown(result, variant, minutes=result["seconds"] / 60),
            command=command,
            rev=result["commit"] or rev,
        )
    fused = np.mean(result["test"]["cnn"])
    peer = np.mean(result["test"]["peer"])
    return {
        "ratio": float(fused / max(peer, 1e-9)),
        "goal": ">= 1 (default cnn vs the tuned peer, last variant)",
        "fused_cnn": float(fused),
        "peer": float(peer),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/tfmm-quality", help="data and runs folder")
    p.add_argument(
        "--variants", nargs="*", default=["complementary", "redundant"], help="hard data variants"
    )
    p.add_argument(
        "--models",
        nargs="*",
        default=["peer", *MODELS],
        help=f"models among peer, {', '.join(MODELS)}",
    )
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2], help="seeds")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for every model (default: EPOCHS, the table's budget)",
    )
    p.add_argument(
        "--protocol",
        action="store_true",
        help="the default model against the tuned peer under benchmarks/protocol.py "
        "(3 data seeds x 3 init seeds, learning rate chosen on validation); writes its "
        "section of BENCHMARKS.md per variant",
    )
    p.add_argument("--data-seeds", nargs="*", type=int, default=None, help="protocol only")
    args = p.parse_args(argv)
    global EPOCHS
    EPOCHS = args.epochs or EPOCHS
    if args.protocol:
        from benchmarks.common import cli_command, write_section
        from benchmarks.run import commit

        rev = commit()
        for variant in args.variants:
            result = protocol(args.work, variant, args.data_seeds, args.seeds)
            command = cli_command("benchmarks.quality", argv)
            text = protocol_markdown(result, variant, minutes=result["seconds"] / 60)
            print(text)
            write_section(
                f"quality_protocol_{variant}", text, command=command, rev=result["commit"] or rev
            )
        return
    table = measure(args.work, args.variants, args.models, args.seeds)
    print(markdown(table, args.seeds))


if __name__ == "__main__":
    main()
