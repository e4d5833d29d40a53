"""Training under tf.distribute with model.fit; evaluation and prediction.

The names below are imported on first use (PEP 562), so that `tfmm.training.config`
(which `tfmm.config` reads) does not import the training loop."""

import importlib as _importlib

_NAMES = {
    "evaluate": "inference",
    "load_run": "inference",
    "predict": "inference",
    "TrainingError": "loop",
    "train": "loop",
    "get_strategy": "strategy",
}

__all__ = ["TrainingError", "evaluate", "get_strategy", "load_run", "predict", "train"]


def __getattr__(name):
    if name in _NAMES:
        return getattr(_importlib.import_module(f"tfmm.training.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'tfmm.training' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_NAMES])
