"""Export formats, one record each: how a format refuses a model, writes its files, checks
them in its own runtime, and says where they went. `export_model` and the `tfmm export`
command read this table; a new format is one module that registers its record (as
Keras's `Model.export(format=...)` dispatches to one module per format).

Each format module (`saved_model`, `onnx`, `tflite`) registers itself when
`tfmm.export` imports it. Nothing here imports TensorFlow.
"""

from dataclasses import dataclass
from typing import Callable, Optional

EXPORT_FORMATS = {}


@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    Attributes:
        name: str. The `--format` name.
        title: str. The format in progress lines ("writing the SavedModel").
        default: bool. Part of `--format all` (the default set).
        refuse: (model, config) -> str or None. Why this model cannot be exported in the
            format (checked before anything is written), or None.
        write: (model, config, vocabularies, staging_dir) -> {result key: path}. Writes
            the format's files into the staging folder.
        check: (paths, model, config, probe, expected) -> None. Loads the files in the
            format's runtime and compares them with the Keras model's `expected` serving
            outputs on the `probe` tensors; raises RuntimeError on a difference.
        describe: (paths) -> str. The log line once published (paths in the version).
        needs: tuple of module names the format imports (optional dependencies,
            `tfmm._extras.OPTIONAL`): a missing one stops the export before anything is
            done, naming the extra to install.
    """

    name: str
    title: str
    default: bool
    refuse: Callable
    write: Callable
    check: Callable
    describe: Callable
    needs: tuple = ()


def register_export_format(record):
    """Adds `record` (an `ExportFormat`) to the table; a second record of one name is an
    error."""
    if record.name in EXPORT_FORMATS:
        raise ValueError(f"export format {record.name!r} is already registered")
    EXPORT_FORMATS[record.name] = record
    return record


def require_extras(formats, feature=None):
    """Imports what the named formats need (`ExportFormat.needs`), or raises
    `tfmm._extras.MissingExtra` naming the extra; call it before any work."""
    from tfmm._extras import require

    for name in formats:
        for module in EXPORT_FORMATS[name].needs:
            require(module, feature or f"export format {name}")


def resolve_formats(formats) -> tuple:
    """Format names from "all", one name, a comma-separated string or a list; an unknown
    name is a ValueError listing the registered ones."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    formats = list(formats)
    if formats == ["all"]:
        return tuple(n for n, f in EXPORT_FORMATS.items() if f.default)
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        default = [n for n, f in EXPORT_FORMATS.items() if f.default]
        raise ValueError(
            f"export formats must be among {list(EXPORT_FORMATS)}. Received: "
            f"{formats} ('all' is {default})"
        )
    return tuple(formats)


def no_refusal(model, config) -> Optional[str]:
    return None
