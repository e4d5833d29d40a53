"""Export for TF Serving (SavedModel) and ONNX, each checked in its real runtime.

Example:

```python
from tfmm.export import export
paths = export("runs/demo", "savedmodels/demo", formats=("savedmodel", "onnx"))
```
"""

import os
import time

# Each format module registers its record (tfmm.export.formats) on import, in this order.
from tfmm.export import saved_model, onnx, tflite  # noqa: F401, I001
from tfmm.export.checks import compare, expected_probs, probe_inputs  # noqa: F401
from tfmm.export.formats import (
    EXPORT_FORMATS,
    register_export_format,
    require_extras,
    resolve_formats,
)
from tfmm.export.onnx import (
    OnnxInputs,
    client_spec,
    export_view,
    onnx_predict,
    onnx_session,
    portable_copy,
    write_onnx,
)
from tfmm.export.saved_model import (
    SIGNATURES,
    load_saved_model,
    next_version_dir,
    publish,
    remove_staging,
    staging_dir,
    write_saved_model,
    write_sidecar,
)
from tfmm.export.signatures import named_outputs, raw_specs, tensor_specs
from tfmm import _log

# The default set (`--format all`) and every registered format.
FORMATS = resolve_formats("all")
ALL_FORMATS = tuple(EXPORT_FORMATS)


def export(run, out_dir, formats=FORMATS, log=None):
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
    log = log or _log.info
    from tfmm.files import RunDir

    model, config, vocabularies = RunDir.load(run) if isinstance(run, str) else run
    return export_model(model, config, vocabularies, out_dir, formats, log)


def export_model(model, config, vocabularies, out_dir, formats=FORMATS, log=None):
    """`export` for a model already in memory. `formats`: names from
    `tfmm.export.formats.EXPORT_FORMATS`, a comma-separated string, or "all"."""
    log = log or _log.info
    formats = resolve_formats(formats)
    records = [EXPORT_FORMATS[name] for name in formats]
    require_extras(formats)  # before anything is written
    for record in records:
        why = record.refuse(model, config)
        if why:
            raise ValueError(f"{record.name}: {why}")

    def stage(text):
        log(f"tfmm export: {text} ({time.monotonic() - start:.0f} s)")

    start = time.monotonic()
    stage("rebuilding the model for export")
    portable = export_view(model, config, vocabularies)
    staging = staging_dir(out_dir)
    written = {}
    try:
        probe = probe_inputs(portable)
        expected = named_outputs(config, portable(probe, training=False))
        for record in records:
            stage(f"writing {record.title}")
            files = record.write(portable, config, vocabularies, staging)
            stage(f"checking {record.title} in its runtime against Keras")
            record.check(
                {k: os.path.join(staging, v) for k, v in files.items()},
                portable,
                config,
                probe,
                expected,
            )
            written[record.name] = files
        write_sidecar(config, vocabularies, staging, client_spec(portable, config, vocabularies))
        version_dir = next_version_dir(out_dir)
        publish(staging, version_dir)
    except BaseException:
        remove_staging(staging)
        raise
    result = {"version_dir": version_dir}
    for record in records:
        paths = {
            k: os.path.join(version_dir, v) if v else version_dir
            for k, v in written[record.name].items()
        }
        result.update(paths)
        log(f"tfmm export: {record.describe(paths)}")
    return result


__all__ = [
    "ALL_FORMATS",
    "EXPORT_FORMATS",
    "FORMATS",
    "OnnxInputs",
    "SIGNATURES",
    "export",
    "export_model",
    "load_saved_model",
    "next_version_dir",
    "onnx_predict",
    "onnx_session",
    "portable_copy",
    "raw_specs",
    "register_export_format",
    "resolve_formats",
    "tensor_specs",
    "write_onnx",
    "write_saved_model",
]
