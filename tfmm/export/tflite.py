"""TFLite export of the core tensor model (for phones and edge devices), checked in the
TFLite interpreter.

Two files: `model.tflite` (float32) and `model.fp16.tflite` (float16 weights, about half
the size). Both take the same tensors as the ONNX model (`predict_tensors`), with the
batch dimension free; make them from raw inputs with `tfmm.client.OnnxClient.features` or
`tfmm.export.OnnxInputs`.

The conversion goes through Keras's `ExportArchive` (a SavedModel that tracks the model's
variables) and `TFLiteConverter.from_saved_model`, TFLite builtin ops only. Encoders that
do not convert to builtins are refused by name: `lstm` (a while loop over a dynamic batch)
and `hub` (TF Hub graphs, strings).
"""

import os
import tempfile

import numpy as np
import tensorflow as tf

from tfmm.export.formats import ExportFormat, register_export_format

VARIANTS = {"model.tflite": None, "model.fp16.tflite": "float16"}


def check_convertible(config):
    """Raises ValueError naming the first input whose encoder TFLite cannot take."""
    for i in config.inputs:
        if i.encoder.tflite_refusal:
            raise ValueError(
                f"tflite: input {i.name!r} uses the {i.encoder.type} encoder: "
                f"{i.encoder.tflite_refusal}. Export --format savedmodel or onnx "
                f"for this model."
            )


def write_tflite(model, config, directory, served):
    """Writes the TFLite variants (`VARIANTS`) of `model` into `directory`; returns their
    paths. `served`: the output names, in order."""
    import keras

    check_convertible(config)
    specs = {
        t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name) for t in model.inputs
    }

    def forward(inputs):
        out = model(inputs, training=False)
        return {name: tf.cast(out[name], tf.float32) for name in served}

    paths = []
    with tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", forward, input_signature=[specs])
        archive.write_out(saved, verbose=False)
        for name, quantize in VARIANTS.items():
            converter = tf.lite.TFLiteConverter.from_saved_model(saved)
            converter.experimental_enable_resource_variables = True
            if quantize == "float16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            try:
                blob = converter.convert()
            except Exception as e:  # the converter raises its own error types
                first = str(e).strip().splitlines()[0][:300] if str(e).strip() else repr(e)
                kinds = sorted({getattr(i.encoder, "type", "?") for i in config.inputs})
                raise RuntimeError(
                    f"tflite: conversion failed for encoders {kinds}: {first}"
                ) from e
            path = os.path.join(directory, name)
            with open(path, "wb") as f:
                f.write(blob)
            paths.append(path)
    return paths


def tflite_runner(path):
    """The signature runner of an exported `.tflite` file, in the interpreter the client
    uses (`tfmm.client.tflite_interpreter`)."""
    from tfmm.client import tflite_interpreter

    return tflite_interpreter(path).get_signature_runner()


def tflite_predict(runner, inputs):
    """{output name: array} of a signature runner on the core model's tensors."""
    names = runner.get_input_details()
    return runner(**{k: np.asarray(inputs[k]) for k in names})


def _refuse(model, config):
    try:
        check_convertible(config)
    except ValueError as e:
        return str(e).split(": ", 1)[1]
    return None


def _write(model, config, vocabularies, staging):
    from tfmm.export.onnx import served_outputs

    write_tflite(model, config, staging, served_outputs(model, config))
    return {"tflite": "model.tflite", "tflite_fp16": "model.fp16.tflite"}


def _check(paths, model, config, probe, expected):
    from tfmm.export.checks import compare, expected_probs

    want = {o.name: np.asarray(expected_probs(expected, o)) for o in config.outputs}
    feed = {k: v.numpy() for k, v in probe.items()}
    for key, atol in (("tflite", 1e-4), ("tflite_fp16", 2e-2)):
        # float16 weights move probabilities by about 1e-3.
        compare(
            want,
            tflite_predict(tflite_runner(paths[key]), feed),
            f"TFLite {os.path.basename(paths[key])}",
            atol=atol,
        )


register_export_format(
    ExportFormat(
        title="TFLite (float32, float16)",
        name="tflite",
        default=False,
        refuse=_refuse,
        write=_write,
        check=_check,
        describe=lambda paths: f"TFLite -> {paths['tflite']} (float16: {paths['tflite_fp16']})",
    )
)
