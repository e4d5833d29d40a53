"""Fusion strategies, registered by the config's `fusion.type`."""

from tfmm.fusion import concat, cross_attention, gated, late, single_stream  # noqa: F401
from tfmm.fusion.registry import FUSIONS, build_fusion, needs_sequences, register_fusion

__all__ = ["FUSIONS", "build_fusion", "needs_sequences", "register_fusion"]
