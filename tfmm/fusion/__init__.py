"""Fusion strategies, registered by the config's `fusion.type`."""

from tfmm.fusion import concat  # noqa: F401  (registers "concat")
from tfmm.fusion.registry import FUSIONS, build_fusion, register_fusion

__all__ = ["FUSIONS", "build_fusion", "register_fusion"]
