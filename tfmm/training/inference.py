"""Evaluation and prediction with a trained model (`tfmm evaluate`, `tfmm predict`)."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfmm.data import make_dataset
from tfmm.data.pipeline import load_manifest
from tfmm.files import RunDir
from tfmm.models import build_model, inspection_model
from tfmm.predictions import kept_columns, prediction_rows
from tfmm.training.reports import reports


def load_run(path):
    """(model, config, vocabularies) from a run directory or a `.keras` file beside its
    `config.yaml`."""
    return RunDir.load(path)


def user_path(source):
    # A path given to evaluate/predict is the caller's: relative to the working
    # directory, not to the run directory the config was loaded from. A DataFrame or a
    # Manifest is taken as it is.
    if not isinstance(source, (str, os.PathLike)):
        return source
    return source if str(source).startswith("tfds:") else os.path.abspath(source)


def _features_only(x, y):
    return x


def predict_arrays(model, config, source, vocabularies, with_labels):
    """(predictions {output: array}, targets {output: array} or None) over `source`."""
    ds = make_dataset(config, user_path(source), vocabularies, with_labels=with_labels)
    xs = ds.map(_features_only) if with_labels else ds
    preds = model.predict(xs, verbose=0)
    targets = None
    if with_labels:
        targets = {
            o.name: np.concatenate([y[o.name].numpy() for _, y in ds]) for o in config.outputs
        }
    return preds, targets


def evaluate(model, config, source, vocabularies, run_dir=None, split=None):
    """Metrics per output on a labelled source; writes confusion matrix PNGs, titled
    with `split` (default: the source's file name), to `run_dir`."""
    preds, targets = predict_arrays(model, config, source, vocabularies, with_labels=True)
    split = split or (
        os.path.splitext(os.path.basename(str(source)))[0]
        if isinstance(source, (str, os.PathLike))
        else "data"
    )
    return reports(config, preds, targets, run_dir, split)


def optional_twin(model, config, vocabularies):
    """(config, model) with every input optional (presence flags), holding `model`'s
    weights: copied layer by layer, by the top-level layer names the two share (presence
    flags add no weights). Variable paths alone do not name a weight: two encoders of
    one kind hold sublayers of the same names (`stage0_conv0` in the image and the audio
    CNN)."""
    twin_config = dataclasses.replace(
        config, inputs=[dataclasses.replace(i, optional=True) for i in config.inputs]
    )
    twin = build_model(twin_config, vocabularies)
    for layer in twin.layers:
        if not layer.weights:
            continue
        try:
            source = model.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"evaluate --missing: the rebuilt model has a layer "
                f"{layer.name!r} with weights that the run's model lacks"
            ) from None
        mine, theirs = [w.shape for w in layer.weights], [w.shape for w in source.weights]
        if mine != theirs:
            raise ValueError(
                f"evaluate --missing: layer {layer.name!r} holds weights of "
                f"shapes {theirs} in the run's model, {mine} rebuilt"
            )
        layer.set_weights(source.get_weights())
    return twin_config, twin


def evaluate_missing(model, config, source, vocabularies):
    """The metrics with every modality present, then with each one removed in turn
    (its presence 0, as a missing optional input): [(removed input name or None,
    metrics per output)].

    Works for any run: the model is rebuilt with every input optional (presence flags
    add no weights) and takes the run's weights by variable path.
    """
    twin_config, twin = optional_twin(model, config, vocabularies)
    ds = make_dataset(twin_config, user_path(source), vocabularies, with_labels=True)
    targets = {o.name: np.concatenate([y[o.name].numpy() for _, y in ds]) for o in config.outputs}
    rows = []
    for removed in [None] + [i.name for i in config.inputs]:

        def drop(x, y, removed=removed):
            x = dict(x)
            if removed is not None:
                x[f"{removed}_present"] = tf.zeros_like(x[f"{removed}_present"])
            return x

        preds = twin.predict(ds.map(drop), verbose=0)
        rows.append((removed, reports(config, preds, targets, None, None)))
    return rows


def evaluation_dir(run_dir, manifest):
    """A new folder for `tfmm evaluate`'s report inside the run: `eval-STEM`, or
    `eval-STEM-2`, ... so that no earlier report (nor the training-time files) is
    overwritten."""
    stem = os.path.splitext(os.path.basename(manifest))[0]
    base = os.path.join(run_dir, f"eval-{stem}")
    path, k = base, 1
    while os.path.exists(path):
        k += 1
        path = f"{base}-{k}"
    return path


def predict(model, config, source, vocabularies, out_csv=None, keep_columns=()):
    """Label strings (or values) and probabilities per row of the manifest `source` (and
    the gated fusion's modality weights), with the manifest's `keep_columns` (an id)
    carried through. `source` may be a manifest path or a pandas DataFrame."""
    source = user_path(source)
    columns, row_numbers = load_manifest(config, source, with_labels=False, with_row_numbers=True)
    ds = make_dataset(config, columns, vocabularies, with_labels=False)
    preds = inspection_model(model).predict(ds, verbose=0)
    return prediction_rows(
        config,
        preds,
        out_csv,
        row_numbers=row_numbers,
        kept=kept_columns(source, keep_columns, row_numbers),
    )
