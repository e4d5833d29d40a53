"""Optional dependencies: which extra of `pip install 'tfmm[EXTRA]'` brings each module
that only some features import, and one function that imports such a module or says, in
one line, what to install.

The core install (TensorFlow, Keras, numpy, scipy, TensorBoard, PyYAML) trains, evaluates
and predicts from CSV/JSONL manifests, TFRecords and DataFrames, and exports SavedModels
and TFLite. Nothing here imports them.
"""

import importlib

#: Top-level module -> (the package pip installs, the tfmm extra that brings it).
OPTIONAL = {
    "keras_hub": ("keras-hub", "keras-hub"),
    "tensorflow_hub": ("tensorflow-hub", "tfhub"),
    "tensorflow_datasets": ("tensorflow-datasets", "tfds"),
    "tf2onnx": ("tf2onnx", "onnx"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "matplotlib": ("matplotlib", "plots"),
    "pandas": ("pandas", "tables"),
    "pyarrow": ("pyarrow", "tables"),
    "PIL": ("pillow", "client"),
    "keras_tuner": ("keras-tuner", "tune"),
    "mlflow": ("mlflow-skinny", "mlflow"),
    "faiss": ("faiss-cpu", "faiss"),
}


class MissingExtra(ImportError):
    """An optional module a feature needs is not installed; the message names the extra."""


def require(module, feature):
    """Imports `module` (dotted names too) for `feature`, or raises `MissingExtra` with
    the one line that says what to install.

    Example:

    >>> require("json", "reading JSON").__name__
    'json'
    >>> OPTIONAL["no_such_module"] = ("no-such-package", "nothing")
    >>> require("no_such_module", "export format nothing")
    Traceback (most recent call last):
    ...
    tfmm._extras.MissingExtra: export format nothing needs no-such-package: pip install 'tfmm[nothing]'
    >>> del OPTIONAL["no_such_module"]
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        # A module that is there but fails inside (a broken install) keeps its own error.
        if e.name is not None and e.name.split(".")[0] != top:
            raise
        package, extra = OPTIONAL.get(top, (top, "all"))
        raise MissingExtra(f"{feature} needs {package}: pip install 'tfmm[{extra}]'") from None
