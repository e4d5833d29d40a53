"""Predictions from an export (SavedModel directory or `.onnx` file) on a manifest, with
the export's own runtime: what `tfmm predict` does when given an export."""

import os

import numpy as np
import tensorflow as tf

from tfmm.files import RunDir
from tfmm.fusion import INSPECTION_OUTPUTS

BATCH = 32


def is_export(path):
    return path.endswith(".onnx") or os.path.exists(os.path.join(path, "saved_model.pb"))


def _sidecar(path):
    side = os.path.join(
        os.path.dirname(os.path.abspath(path)) if path.endswith(".onnx") else path, "tfmm"
    )
    if not os.path.isdir(side):
        raise FileNotFoundError(
            f"no tfmm/ folder (config, vocabularies) beside {path!r}; "
            f"was it written by tfmm export?"
        )
    run = RunDir(side)
    return run.read_config(), run.read_vocabularies()


def load_export(path):
    """(config, vocabularies, predict_raw) for an export. `predict_raw(raw)` takes
    {input name: list of str/bytes} (text, encoded image bytes, WAV bytes) and returns
    {output name: probabilities or values}."""
    from tfmm.export import expected_probs
    from tfmm.export.onnx import OnnxInputs, onnx_predict, onnx_session

    config, vocabularies = _sidecar(path)
    if path.endswith(".onnx"):
        session = onnx_session(path)
        make = OnnxInputs(config, vocabularies)

        def predict_raw(raw):
            return onnx_predict(session, config, make(raw))
    else:
        serve = tf.saved_model.load(path).signatures["serving_default"]

        from tfmm.export.signatures import raw_specs

        specs = raw_specs(config)

        def predict_raw(raw):
            named = serve(
                **{
                    k: tf.constant(v, specs[k].dtype if k in specs else tf.string)
                    for k, v in raw.items()
                }
            )
            named = {k: v.numpy() for k, v in named.items()}
            out = {o.name: expected_probs(named, o) for o in config.outputs}
            out.update({k: named[k] for k in INSPECTION_OUTPUTS if k in named})
            return out

    return config, vocabularies, predict_raw


def read_raw(config, manifest_path, with_row_numbers=False):
    """{input name: list of raw values} of a manifest: text as is, media files' bytes
    (and the kept rows' numbers, with `with_row_numbers`)."""
    from tfmm.data.pipeline import load_manifest

    columns, row_numbers = load_manifest(
        config, manifest_path, with_labels=False, with_row_numbers=True
    )
    from tfmm.input_types import input_type

    raw = {}
    for i in config.inputs:
        # Text as is, media files' bytes (an optional input's empty path as empty bytes,
        # "missing"), a table's numbers and categories (`tfmm.input_types`).
        raw.update(input_type(i).raw_values(i, columns))
    return (raw, row_numbers) if with_row_numbers else raw


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def predict_export(path, manifest_path, out_csv=None, keep_columns=()):
    """`tfmm predict` rows for an export on a manifest (batches of 32), with the
    manifest's `keep_columns` carried through."""
    from tfmm.predictions import kept_columns, prediction_rows

    config, _, predict_raw = load_export(path)
    raw, row_numbers = read_raw(config, manifest_path, with_row_numbers=True)
    n = len(next(iter(raw.values())))
    parts = [predict_raw({k: v[s : s + BATCH] for k, v in raw.items()}) for s in range(0, n, BATCH)]
    preds = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return prediction_rows(
        config,
        preds,
        out_csv,
        row_numbers=row_numbers,
        kept=kept_columns(manifest_path, keep_columns, row_numbers),
    )
