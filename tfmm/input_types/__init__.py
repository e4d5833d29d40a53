"""Input types, one module each (`registry.py` says what a type declares). Every module
of this package is imported here: defining a type in it registers it."""

import importlib as _importlib
import pkgutil as _pkgutil

from tfmm.input_types.registry import INPUT_TYPES, InputType, input_type, register_input_type

# The built-in types first, in the order messages list them.
from tfmm.input_types import text, image, audio, tabular  # noqa: E402, F401, I001

for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["INPUT_TYPES", "InputType", "input_type", "register_input_type"]
