"""tfmm: multimodal (text, image, audio) Keras 3 models on TensorFlow 2.

Example:

```python
import tfmm
config = tfmm.load_config("examples/tri_modal.yaml")
model = tfmm.build_model(config)
```
"""

import importlib as _importlib

__version__ = "0.1.0"

# Subpackages and names are imported on first use (PEP 562), so that `import tfmm` and
# the `tfmm` command's argument parsing do not pay TensorFlow's import time (seconds).
_SUBPACKAGES = (
    "data",
    "encoders",
    "export",
    "fusion",
    "layers",
    "models",
    "pretraining",
    "training",
)
_NAMES = {
    "Config": "tfmm.config",
    "ConfigError": "tfmm.config",
    "config_from_dict": "tfmm.config",
    "load_config": "tfmm.config",
    "build_model": "tfmm.models",
    "compile_model": "tfmm.models",
}

__all__ = [
    "Config",
    "ConfigError",
    "build_model",
    "compile_model",
    "config_from_dict",
    "load_config",
]


# A saved `.keras` file loads after `import tfmm` (tfmm/_registration.py).
from tfmm import _registration  # noqa: E402

_registration.install()


def __getattr__(name):
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"tfmm.{name}")
    if name in _NAMES:
        return getattr(_importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'tfmm' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES, *_NAMES])
