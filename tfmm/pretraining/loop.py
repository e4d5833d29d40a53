"""`tfmm pretrain`: one `model.fit` per objective, then the encoders' weights on disk."""

import json
import os

import keras
import numpy as np

from tfmm.data import Manifest, fit_text_vocabularies, make_dataset
from tfmm.data.pipeline import load_manifest
from tfmm.data.text import bert_vocabulary
from tfmm.encoders import build_encoder
from tfmm.files import RunDir, write_json
from tfmm.pretraining.contrastive import build_pretrainer, retrieval_recall
from tfmm.pretraining.mlm import masked_lm, mlm_input, set_pooler_trainable, text_dataset
from tfmm.training.callbacks import (
    Backup,
    TerminateOnNaNWithMessage,
    nan_message,
    save_model_atomically,
)
from tfmm.training.init_from import ENCODERS_DIR, initialise_from, save_encoder_weights
from tfmm.training.loop import TrainingError
from tfmm.training.optimizers import build_optimizer
from tfmm.training.setup import (
    distributed_dataset,
    global_batch_size,
    pretrained_encoders,
    steps_per_epoch,
    with_init_from_vocabularies,
)
from tfmm.training.strategy import describe, get_strategy
from tfmm import _log

OBJECTIVES = ("contrastive", "mlm")


def pretrain(
    config,
    run_dir,
    objective="contrastive",
    input_name=None,
    projection_dim=64,
    log=None,
    verbose="auto",
):
    """Pretrains the encoders of `config` on its manifests, without labels.

    - `contrastive`: CLIP-style alignment of each input with the anchor input (the first
      text input): projection heads, symmetric InfoNCE with a learnable temperature,
      in-batch negatives (global across replicas under a strategy). Reports retrieval
      recall@1 and @5 in both directions on the validation split (or on the training
      split when there is none).
    - `mlm`: masked-language-model pretraining of the bert input (`input_name`, or the
      only one) on the manifest's text, with keras-hub's `BertMaskedLM`. Reports masked
      token accuracy on the validation split.

    Uses the config's `data` (train, val, batch_size, seed) and `training` (epochs,
    optimizer, learning_rate, strategy, steps_per_epoch); label columns are not read.
    Contrastive pretraining also takes `training.init_from` (encoders, and TextCNN
    vocabularies, from a `tfmm pretrain` or `tfmm train` run) and, to keep those
    pretrained encoders locked for the whole run while the others learn to meet them
    (LiT), `training.freeze_pretrained_epochs` equal to `training.epochs`. A
    kill resumes from the last finished epoch, like `tfmm train`.

    Writes `run_dir/encoders/{input}.weights.npz`, `config.yaml`, `vocabularies.json`,
    `history.csv` and `pretrain.json` (objective and metrics). Point
    `training.init_from` at `run_dir` to start `tfmm train` from these encoders.

    Returns:
        dict of metrics.
    """
    log = log or _log.info
    if objective not in OBJECTIVES:
        raise ValueError(
            f"pretrain: objective must be one of {list(OBJECTIVES)}. "
            f"Received: objective={objective!r}"
        )
    if os.path.exists(os.path.join(run_dir, "pretrain.json")):
        raise FileExistsError(
            f"run directory {run_dir!r} holds a finished pretraining run "
            f"(pretrain.json); give another --out"
        )
    if config.data.train is None:
        raise ValueError("data.train: required to pretrain (a manifest of the examples)")
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.data.seed)
    keras.mixed_precision.set_global_policy("float32")
    if objective == "contrastive":
        metrics, encoders, vocabularies = _contrastive(
            config, run_dir, projection_dim, log, verbose
        )
    else:
        metrics, encoders, vocabularies = _mlm(config, run_dir, input_name, log, verbose)
    for name, encoder in encoders.items():
        save_encoder_weights(encoder, os.path.join(run_dir, ENCODERS_DIR, f"{name}.weights.npz"))
    RunDir(run_dir).write_config(config, vocabularies)
    summary = {"objective": objective, "encoders": sorted(encoders), "metrics": metrics}
    write_json(os.path.join(run_dir, "pretrain.json"), summary, indent=2)
    log(
        f"tfmm pretrain: encoders {', '.join(sorted(encoders))} -> "
        f"{os.path.join(run_dir, ENCODERS_DIR)}; metrics {json.dumps(metrics)}"
    )
    return metrics


def _callbacks(run_dir, log):
    run = RunDir(run_dir)
    return [
        Backup(run.backup, log=log),
        keras.callbacks.CSVLogger(run.history, append=True),
        TerminateOnNaNWithMessage(),
    ]


def _fit(model, dataset, config, steps, run_dir, log, verbose, validation=None):
    callbacks = _callbacks(run_dir, log)
    model.fit(
        dataset,
        epochs=config.training.epochs,
        steps_per_epoch=steps,
        validation_data=validation,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,
    )
    if nan_message(callbacks):
        raise TrainingError(nan_message(callbacks))


def _contrastive(config, run_dir, projection_dim, log, verbose):
    strategy = get_strategy(config.training.strategy)
    train_src = config.resolve_path(config.data.train)
    manifest = Manifest(train_src)
    rows = len(
        next(
            iter(
                load_manifest(
                    config, manifest, with_labels=False, report_dir=run_dir, log=log
                ).values()
            )
        )
    )
    vocabularies = with_init_from_vocabularies(config, fit_text_vocabularies(config, manifest))
    global_batch = global_batch_size(config, strategy)
    log(
        f"tfmm pretrain: contrastive on {rows} rows; strategy {describe(strategy)}; "
        f"global batch {global_batch} (in-batch negatives: {global_batch - 1} per example)"
    )
    dataset = distributed_dataset(
        strategy,
        config,
        train_src,
        vocabularies,
        global_batch,
        training=True,
        report_dir=run_dir,
        repeat=True,
        with_labels=False,
    )
    steps = steps_per_epoch(config, rows, global_batch)
    with strategy.scope():
        model = build_pretrainer(config, vocabularies, projection_dim=projection_dim)
        _start_from(model, config, log)
        model.compile(optimizer=build_optimizer(config, steps))
    _fit(model, dataset, config, steps, run_dir, log, verbose)

    eval_src = config.resolve_path(config.data.val or config.data.train)
    emb = model.predict(make_dataset(config, eval_src, vocabularies, with_labels=False), verbose=0)
    metrics = {
        "temperature": float(1.0 / np.asarray(model.logit_scale)),
        "eval_split": "val" if config.data.val else "train",
        "n": len(emb[model.anchor]),
    }
    for name in emb:
        if name == model.anchor:
            continue
        for q, c in ((model.anchor, name), (name, model.anchor)):
            for k, v in retrieval_recall(emb[q], emb[c]).items():
                metrics[f"{q}_to_{c}_{k}"] = v
    # The whole pretrainer (encoders and projections): `tfmm embed` reads the shared space.
    save_model_atomically(model, RunDir(run_dir).pretrainer)
    return metrics, dict(model.encoders), vocabularies


def _start_from(model, config, log):
    """`training.init_from` and `training.freeze_pretrained_epochs` in contrastive
    pretraining: the encoders start from the run named, and with
    `freeze_pretrained_epochs` equal to `epochs` the pretrained ones stay locked for the
    whole run while the others (and every projection) learn to meet them (LiT: Zhai et
    al., 2022, "Locked-image Tuning")."""
    t = config.training
    if t.init_from:
        initialise_from(model, config, config.resolve_path(t.init_from), log=log)
    if not t.freeze_pretrained_epochs:
        return
    if t.freeze_pretrained_epochs != t.epochs:
        raise ValueError(
            f"tfmm pretrain: training.freeze_pretrained_epochs locks the pretrained encoders "
            f"for the whole run: 0 or training.epochs ({t.epochs}); the two phases are "
            f"`tfmm train`'s. Received: freeze_pretrained_epochs={t.freeze_pretrained_epochs}"
        )
    locked = pretrained_encoders(config)
    if not locked:
        log(
            "tfmm pretrain: training.freeze_pretrained_epochs is set but no encoder has "
            "pretrained weights; every encoder learns"
        )
        return
    if len(locked) == len(model.encoders):
        raise ValueError(
            f"tfmm pretrain: every encoder is locked ({', '.join(locked)}); leave at least "
            f"one to learn (training.init_from a run without it, or "
            f"training.freeze_pretrained_epochs: 0)"
        )
    for name in locked:
        model.get_layer(name).trainable = False
    log(f"tfmm pretrain: locked (pretrained, not trained): {', '.join(locked)}")


def _mlm(config, run_dir, input_name, log, verbose):
    i = mlm_input(config, input_name)
    vocab = bert_vocabulary(i.encoder)
    train_src = config.resolve_path(config.data.train)
    texts = _texts(config, train_src, i, run_dir, log)
    log(f"tfmm pretrain: masked LM on input {i.name!r}: {len(texts)} texts")
    encoder = build_encoder(i, vocabulary=vocab)
    model, preprocessor = masked_lm(encoder, i, vocab, seed=config.data.seed)
    batch = config.data.batch_size
    dataset = text_dataset(
        texts, preprocessor, batch, training=True, seed=config.data.seed
    ).repeat()
    steps = config.training.steps_per_epoch or max(len(texts) // batch, 1)
    val = None
    if config.data.val:
        val = text_dataset(
            _texts(config, config.resolve_path(config.data.val), i, run_dir, log),
            preprocessor,
            batch,
            training=False,
            seed=config.data.seed,
        )
    model.compile(
        optimizer=build_optimizer(config, steps),
        # The mean over the masked tokens: the default reduction divides by
        # every mask slot, padding included, and reads as a lower loss.
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    _fit(model, dataset, config, steps, run_dir, log, verbose, validation=val)
    set_pooler_trainable(encoder.backbone, True)
    metrics = {}
    if val is not None:
        result = model.evaluate(val, verbose=0, return_dict=True)
        metrics = {
            "val_masked_accuracy": float(result["accuracy"]),
            "val_loss": float(result["loss"]),
        }
    return metrics, {i.name: encoder}, {i.name: vocab}


def _texts(config, source, input_config, run_dir, log):
    columns = load_manifest(config, source, with_labels=False, report_dir=run_dir, log=log)
    return [t for c in input_config.columns for t in columns[c] if t.strip()]
