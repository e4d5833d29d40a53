"""Export for TF Serving (SavedModel) and ONNX, each checked in its real runtime.

Example:

```python
from tfmm.export import export
paths = export("runs/demo", "savedmodels/demo", formats=("savedmodel", "onnx"))
```
"""

import os
import time

import numpy as np

from tfmm.export.onnx import (OnnxInputs, check_onnx_loads, client_spec, export_view,
                              onnx_predict, onnx_session, portable_copy, write_onnx)
from tfmm.export.saved_model import (SIGNATURES, load_saved_model, next_version_dir,
                                     publish, remove_staging, staging_dir, write_saved_model,
                                     write_sidecar)
from tfmm.export.signatures import named_outputs, raw_specs, tensor_specs
from tfmm.models.builder import INSPECTION_OUTPUTS

FORMATS = ("savedmodel", "onnx")  # the default set (`--format all`)
# Also on request: TFLite (float32 and float16 files, tfmm.export.tflite).
ALL_FORMATS = FORMATS + ("tflite",)


def export(run, out_dir, formats=FORMATS, log=print):
    """Exports a run (directory, or `model.keras` beside its `config.yaml`) to the next
    version directory under `out_dir`: `out_dir/N/` holds the SavedModel (TF Serving's
    layout) and/or `model.onnx`, and `tfmm/` with the config, vocabularies and labels.

    The model is rebuilt with `use_cudnn=False` LSTMs first (cuDNN kernels neither
    convert to ONNX nor run on a CPU server). Each export is loaded back in its runtime
    and compared with the Keras model on the same inputs before the version is published
    (one rename, so a server never sees half an export).

    Returns:
        dict with "version_dir", and "savedmodel" / "onnx" paths.
    """
    from tfmm.files import RunDir

    model, config, vocabularies = RunDir.load(run) if isinstance(run, str) else run
    return export_model(model, config, vocabularies, out_dir, formats, log)


def export_model(model, config, vocabularies, out_dir, formats=FORMATS, log=print):
    """`export` for a model already in memory."""
    unknown = set(formats) - set(ALL_FORMATS)
    if unknown or not formats:
        raise ValueError(f"export formats must be among {list(ALL_FORMATS)}. Received: "
                         f"{list(formats)}")
    if "tflite" in formats:
        from tfmm.export.tflite import check_convertible

        check_convertible(config)
    strings = [t.name for t in model.inputs if t.dtype == "string"]
    if "onnx" in formats and strings:
        raise ValueError(f"onnx: input {strings[0]!r} takes strings (a hub text encoder); "
                         f"ONNX runtimes have no TensorFlow string ops. Export "
                         f"--format savedmodel for this model.")
    refused = [(i, i.encoder.onnx_refusal(i.type)) for i in config.inputs
               if i.encoder.onnx_refusal(i.type)]
    if "onnx" in formats and refused:
        i, why = refused[0]
        raise ValueError(f"onnx: input {i.name!r} uses the {i.encoder.type} encoder for "
                         f"{i.type} ({why}); it is not converted to ONNX. Export "
                         f"--format savedmodel for this model.")
    def stage(text):
        log(f"tfmm export: {text} ({time.monotonic() - start:.0f} s)")

    start = time.monotonic()
    stage("rebuilding the model for export")
    portable = export_view(model, config, vocabularies)
    staging = staging_dir(out_dir)
    result = {}
    try:
        probe = _probe_inputs(portable)
        expected = named_outputs(config, portable(probe, training=False))
        if "savedmodel" in formats:
            stage("tracing the serving signatures and writing the SavedModel")
            write_saved_model(portable, config, vocabularies, staging)
            stage("checking the SavedModel against Keras")
            loaded = load_saved_model(staging)
            got = loaded.signatures["predict_tensors"](**probe)
            _compare(expected, got, "SavedModel predict_tensors", atol=1e-5)
        if "onnx" in formats:
            stage("converting to ONNX (tf2onnx)")
            onnx_path = os.path.join(staging, "model.onnx")
            write_onnx(portable, config, onnx_path, vocabularies)
            stage("checking the ONNX model in onnxruntime against Keras")
            check_onnx_loads(onnx_path)
            got = onnx_predict(onnx_session(onnx_path), config,
                               {k: v.numpy() for k, v in probe.items()})
            want = {o.name: expected_probs(expected, o) for o in config.outputs}
            want.update({k: expected[k] for k in INSPECTION_OUTPUTS if k in expected})
            _compare(want, got, "ONNX", atol=1e-4)
        if "tflite" in formats:
            from tfmm.export.onnx import served_outputs
            from tfmm.export.tflite import tflite_predict, tflite_runner, write_tflite

            stage("converting to TFLite (float32, float16)")
            want = {name: np.asarray(expected_probs(expected, o)) for o in config.outputs
                    for name in [o.name]}
            served = served_outputs(portable, config)
            for path in write_tflite(portable, config, staging, served):
                got = tflite_predict(tflite_runner(path),
                                     {k: v.numpy() for k, v in probe.items()})
                # float16 weights move probabilities by about 1e-3.
                _compare(want, got, f"TFLite {os.path.basename(path)}",
                         atol=1e-4 if path.endswith("model.tflite") else 2e-2)
        write_sidecar(config, vocabularies, staging,
                      client_spec(portable, config, vocabularies))
        version_dir = next_version_dir(out_dir)
        publish(staging, version_dir)
    except BaseException:
        remove_staging(staging)
        raise
    result["version_dir"] = version_dir
    if "savedmodel" in formats:
        result["savedmodel"] = version_dir
        log(f"tfmm export: SavedModel -> {version_dir} (signatures {', '.join(SIGNATURES)})")
    if "onnx" in formats:
        result["onnx"] = os.path.join(version_dir, "model.onnx")
        log(f"tfmm export: ONNX -> {result['onnx']}")
    if "tflite" in formats:
        result["tflite"] = os.path.join(version_dir, "model.tflite")
        result["tflite_fp16"] = os.path.join(version_dir, "model.fp16.tflite")
        log(f"tfmm export: TFLite -> {result['tflite']} (float16: {result['tflite_fp16']})")
    return result


def expected_probs(named, output_config):
    """The probabilities/values tensor of one output among the named serving outputs."""
    for suffix in ("_probabilities", "_probability", "_values"):
        key = output_config.name + suffix
        if key in named:
            value = np.asarray(named[key])
            return value[:, None] if suffix == "_probability" else value
    raise KeyError(output_config.name)


def _probe_inputs(model, batch=3):
    """Deterministic valid inputs for the export checks."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = {}
    for t in model.inputs:
        shape = (batch, *t.shape[1:])
        if t.name.endswith("_present"):
            # Present, missing, present: the checks cover a missing modality too.
            x[t.name] = np.array([1.0, 0.0, 1.0][:batch] + [1.0] * (batch - 3), "float32")
        elif t.name.endswith("_length"):
            samples = next(u.shape[1] for u in model.inputs if u.name == t.name[:-7])
            x[t.name] = np.full(shape, samples // 2, "int32")
        elif t.name.endswith("_segment_ids"):
            x[t.name] = np.zeros(shape, t.dtype)
        elif t.name.endswith("_padding_mask"):
            x[t.name] = np.ones(shape, t.dtype)
        elif str(t.dtype).startswith("int"):
            x[t.name] = rng.integers(0, 3, size=shape).astype(t.dtype)
        elif len(shape) == 4:
            x[t.name] = rng.uniform(0, 255, size=shape).astype("float32")
        elif t.dtype == "string":
            x[t.name] = np.array(["probe"] * batch)
        elif t.name.endswith("_numeric") and len(shape) == 2:
            # Raw tabular numbers: one missing (NaN) cell, and one far outside any range.
            x[t.name] = rng.normal(0, 3, size=shape).astype("float32")
            x[t.name][0, 0], x[t.name][-1, -1] = np.nan, 1e6
        else:
            x[t.name] = rng.uniform(-0.5, 0.5, size=shape).astype("float32")
    return {k: tf.constant(v) for k, v in x.items()}


def _compare(expected, got, what, atol):
    for key, value in expected.items():
        if key not in got:
            raise RuntimeError(f"{what}: output {key!r} missing; it has {sorted(got)}")
        a, b = np.asarray(value), np.asarray(got[key])
        if a.dtype.kind in "SUO":
            if not (a == b).all():
                raise RuntimeError(f"{what}: output {key!r} differs from the Keras model")
            continue
        diff = float(np.abs(a - b).max()) if a.size else 0.0
        if diff > atol:
            raise RuntimeError(f"{what}: output {key!r} differs from the Keras model by "
                               f"{diff:.3g} (allowed {atol})")


__all__ = ["ALL_FORMATS", "FORMATS", "OnnxInputs", "SIGNATURES", "export", "export_model",
           "load_saved_model", "next_version_dir", "onnx_predict", "onnx_session",
           "portable_copy", "raw_specs", "tensor_specs", "write_onnx", "write_saved_model"]
