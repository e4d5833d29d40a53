"""Model quality on hard data nobody tuned for: tfmm's recipes against the hand-written
peer and against each single modality, over seeds.

    python -m benchmarks.run --only quality          # 3 seeds, both variants
    python -m benchmarks.quality --seeds 0 --variants complementary --models peer cnn
    python -m benchmarks.quality --variants redundant --models cnn --epochs 12

Data: `benchmarks.hard_data` (complementary: 12 classes, one factor per modality;
redundant: 10 classes, the same label in every modality), 1,000 rows (700 train), 24
epochs (at 12 the fused model was still learning on every seed: BENCHMARKS.md), batch 32,
AdamW 3e-3 (the README recipe's), tfmm's other defaults (the best epoch on validation
accuracy). Figures: test accuracy and macro-F1, mean ± std over seeds,
and on the complementary variant how well each model reads each modality's factor.
"""

import argparse
import os
import shutil
import time

import numpy as np

NAME = "quality"
# Minutes on 2 CPU cores (quick, full). Too long for `--quick` (<= 15 min in all):
# run it by name (`--only quality`).
MINUTES = (80, 240)
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


def run(work, quick=False):
    seeds = (0,) if quick else (0, 1, 2)
    table = measure(work, ("complementary", "redundant"), ["peer", *MODELS], seeds)
    from benchmarks.common import write_section

    write_section("quality", markdown(table, seeds))
    fused = table[("complementary", "cnn")][:, 0].mean()
    peer = table[("complementary", "peer")][:, 0].mean()
    return {
        "ratio": float(fused / max(peer, 1e-9)),
        "goal": ">= 1 (fused cnn vs peer)",
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
    args = p.parse_args(argv)
    global EPOCHS
    EPOCHS = args.epochs or EPOCHS
    table = measure(args.work, args.variants, args.models, args.seeds)
    print(markdown(table, args.seeds))


if __name__ == "__main__":
    main()
