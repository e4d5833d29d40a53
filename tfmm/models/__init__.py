"""Model building: config -> keras.Model."""

from tfmm.models.builder import build_model, compile_model, inspection_model
from tfmm.models.heads import loss_for, metrics_for

__all__ = ["build_model", "compile_model", "inspection_model", "loss_for", "metrics_for"]
