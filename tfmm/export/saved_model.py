"""SavedModel export in TF Serving's layout, with a raw-input and a tensor signature."""

import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from tfmm.export.formats import ExportFormat, no_refusal, register_export_format
from tfmm.files import RunDir, write_json
from tfmm.export.signatures import make_serving_functions, raw_specs, tensor_specs

SIGNATURES = ("serving_default", "predict_tensors", "embed")


def next_version_dir(base_dir):
    """`base_dir/N` with N one more than the highest numeric version there (1 if none).
    Existing versions are never overwritten."""
    os.makedirs(base_dir, exist_ok=True)
    versions = [int(d) for d in os.listdir(base_dir) if re.fullmatch(r"\d+", d)]
    return os.path.join(base_dir, str(max(versions, default=0) + 1))


def write_saved_model(model, config, vocabularies, path):
    """Writes a SavedModel with two signatures to `path` (which must not exist).

    - `serving_default`: raw inputs, one string per example for each config input (text,
      encoded image bytes, WAV bytes), decoded and preprocessed in the graph; returns the
      named outputs of `tfmm.export.signatures.named_outputs` (probabilities and label
      strings, or values for regression).
    - `predict_tensors`: the core model's input tensors (as `tfmm.data` makes them); the
      same outputs.
    - `embed`: the raw inputs of `serving_default`; returns float32 `fused` (the vector
      the heads read) and each input's vector (`tfmm.embeddings`, what `tfmm embed`
      writes).

    Lookup tables (TextVectorization, WordPiece) are tracked, so the SavedModel is whole.
    """
    serve_raw, serve_tensors, preprocessor = make_serving_functions(model, config, vocabularies)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for part in preprocessor.tracked:
        if isinstance(part, tf.Module):  # lookup tables (tabular)
            archive.track(part)
        elif getattr(part, "layer", None) is not None:  # a text vectorizer or tokenizer
            part.layer(tf.constant(["build"]))  # ExportArchive tracks built layers only
            archive.track(part.layer)
    archive.add_endpoint("serving_default", serve_raw, input_signature=[raw_specs(config)])
    archive.add_endpoint("predict_tensors", serve_tensors, input_signature=[tensor_specs(model)])
    from tfmm.embeddings import embedding_model
    from tfmm.export.signatures import raw_features

    vectors = embedding_model(model, config)

    def serve_embed(inputs):
        x = raw_features(config, preprocessor, inputs)
        return {k: tf.cast(v, tf.float32) for k, v in vectors(x, training=False).items()}

    archive.add_endpoint("embed", serve_embed, input_signature=[raw_specs(config)])
    archive.write_out(path, verbose=False)


def write_sidecar(config, vocabularies, directory, client_spec=None):
    """`tfmm/` beside an export: the resolved config, vocabularies and label map, so the
    ONNX model's inputs can be made from raw inputs (and `tfmm predict` can read them),
    and `client.json`, the TensorFlow-free client's spec (`tfmm.client.TFLiteClient`
    reads it; the ONNX file carries the same in its metadata)."""
    side = os.path.join(directory, "tfmm")
    os.makedirs(side, exist_ok=True)
    if client_spec is not None:
        write_json(os.path.join(side, "client.json"), client_spec)
    RunDir(side).write_config(config, vocabularies, absolute_paths=False)
    write_json(
        os.path.join(side, "labels.json"),
        {o.name: o.labels for o in config.outputs if o.labels},
        indent=2,
    )


def publish(staging, version_dir):
    """Moves a fully written export into place in one rename: TF Serving, which polls the
    base directory, never sees a half-written version. The version is made readable by
    every user first (folders 0755, files 0644): a server often runs as another user."""
    make_world_readable(staging)
    os.rename(staging, version_dir)


def make_world_readable(root):
    """Folders 0755 and files 0644 under (and including) `root`."""
    os.chmod(root, 0o755)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o755)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)


_STAGING = re.compile(r"\.staging-(\d+)-")


def staging_dir(base_dir):
    """A new private folder `base_dir/.staging-PID-XXXX` to write an export into. The
    staging folders of exports whose process is gone (killed) are removed first."""
    os.makedirs(base_dir, exist_ok=True)
    for name in os.listdir(base_dir):
        m = _STAGING.match(name)
        if m and not _alive(int(m.group(1))):
            shutil.rmtree(os.path.join(base_dir, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=base_dir)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def load_saved_model(path):
    """`tf.saved_model.load` of an export's version directory."""
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"no saved_model.pb in {path!r}")
    return tf.saved_model.load(path)


def remove_staging(staging):
    shutil.rmtree(staging, ignore_errors=True)


def _check(paths, model, config, probe, expected):
    from tfmm.export.checks import compare

    loaded = load_saved_model(paths["savedmodel"])
    compare(
        expected,
        loaded.signatures["predict_tensors"](**probe),
        "SavedModel predict_tensors",
        atol=1e-5,
    )


register_export_format(
    ExportFormat(
        title="the SavedModel",
        name="savedmodel",
        default=True,
        refuse=no_refusal,
        write=lambda model, config, vocabularies, staging: (
            write_saved_model(model, config, vocabularies, staging) or {"savedmodel": ""}
        ),
        check=_check,
        describe=lambda paths: (
            f"SavedModel -> {paths['savedmodel']} (signatures {', '.join(SIGNATURES)})"
        ),
    )
)
