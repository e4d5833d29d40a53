"""Encoder weights handed from a pretraining run (or a finished run) to `tfmm train`.

A pretraining run directory holds `encoders/{input}.weights.npz`: the encoder's weights
in `encoder.weights` order, with their paths. The order and shapes do not depend on
whether the encoder outputs a vector or a token sequence (the layers that differ hold no
weights), so one pretrained encoder serves every fusion strategy.
"""

import os

import numpy as np

from tfmm.encoders.registry import encoder_name
from tfmm.files import RunDir, atomic_path
from tfmm import _log

ENCODERS_DIR = "encoders"


def save_encoder_weights(encoder, path):
    """Writes `encoder`'s weights (and their paths) to an `.npz` file atomically."""
    arrays = {f"w{k:04d}": np.asarray(w) for k, w in enumerate(encoder.get_weights())}
    arrays["paths"] = np.array([w.path for w in encoder.weights])
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def load_encoder_weights(encoder, path, input_name):
    """Loads weights written by `save_encoder_weights` into `encoder`, checking count and
    shapes; the error names the input, the file and the first mismatch."""
    with np.load(path) as data:
        paths = list(data["paths"])
        values = [data[f"w{k:04d}"] for k in range(len(paths))]
    ours = encoder.weights
    if len(values) != len(ours):
        raise ValueError(
            f"input {input_name!r}: {path} holds {len(values)} weights but the "
            f"configured encoder has {len(ours)}; pretrain with the same "
            f"encoder settings."
        )
    for saved_path, value, var in zip(paths, values, ours):
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(
                f"input {input_name!r}: weight {var.path} has shape "
                f"{tuple(var.shape)} but {path} holds {tuple(value.shape)} "
                f"(as {saved_path}); pretrain with the same encoder settings."
            )
    encoder.set_weights(values)


def read_vocabularies(run_dir):
    """{text input: vocabulary} of a run directory; {} when it has none."""
    return RunDir(run_dir).read_vocabularies()


def initialise_from(model, config, source, log=None):
    """Initialises the encoders of `model` from `source`: a `tfmm pretrain` run directory
    (its `encoders/*.weights.npz`) or a finished `tfmm train` run (its `model.keras`).
    Encoders are matched by input name; an input the source lacks keeps its fresh
    weights (and is reported).

    Returns:
        list of the input names that were initialised.
    """
    log = log or _log.info
    if not os.path.isdir(source):
        raise FileNotFoundError(
            f"training.init_from: no directory {source!r} (expected a "
            f"`tfmm pretrain` or `tfmm train` run directory)"
        )
    done, missing = [], []
    encoders_dir = os.path.join(source, ENCODERS_DIR)
    if os.path.isdir(encoders_dir):
        for i in config.inputs:
            path = os.path.join(encoders_dir, f"{i.name}.weights.npz")
            if not os.path.exists(path):
                missing.append(i.name)
                continue
            load_encoder_weights(model.get_layer(encoder_name(i)), path, i.name)
            done.append(i.name)
    elif RunDir(source).is_finished():
        import keras

        other = keras.saving.load_model(RunDir(source).model, safe_mode=True)
        names = {layer.name for layer in other.layers}
        for i in config.inputs:
            name = encoder_name(i)
            if name not in names:
                missing.append(i.name)
                continue
            src, dst = other.get_layer(name), model.get_layer(name)
            shapes = [tuple(w.shape) for w in src.weights]
            if shapes != [tuple(w.shape) for w in dst.weights]:
                raise ValueError(
                    f"input {i.name!r}: the encoder in {source}/model.keras has "
                    f"other weight shapes than the configured one."
                )
            dst.set_weights(src.get_weights())
            done.append(i.name)
    else:
        raise FileNotFoundError(
            f"training.init_from: {source!r} has neither "
            f"{ENCODERS_DIR}/ (a pretraining run) nor model.keras"
        )
    log(
        f"tfmm: encoders initialised from {source}: {', '.join(done) or 'none'}"
        + (f"; not in it (fresh weights): {', '.join(missing)}" if missing else "")
    )
    return done
