"""Fusion strategies, registered by the config's `fusion.type`. Import
`INSPECTION_OUTPUTS` from here (every strategy registered), not from the registry."""

from tfmm.fusion import concat, cross_attention, gated, late, single_stream  # noqa: F401
from tfmm.fusion.registry import (FUSIONS, INSPECTION_OUTPUTS, build_fusion, needs_sequences,
                                  register_fusion)

__all__ = ["FUSIONS", "INSPECTION_OUTPUTS", "build_fusion", "needs_sequences", "register_fusion"]
