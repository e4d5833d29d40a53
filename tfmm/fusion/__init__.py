"""Fusion strategies, one module each: its config class and function registered together
under the config's `fusion.type`. Every module of this package is imported here (defining
a strategy in it registers it). Import `INSPECTION_OUTPUTS` from here (every strategy
registered), not from the registry."""

import importlib as _importlib
import pkgutil as _pkgutil

from tfmm.fusion.registry import (
    FUSIONS,
    INSPECTION_OUTPUTS,
    build_fusion,
    needs_sequences,
    register_fusion,
)

for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FUSIONS", "INSPECTION_OUTPUTS", "build_fusion", "needs_sequences", "register_fusion"]
