"""Experiment tracking: the `tracking:` config (`tfmm.tracking.config`) and the MLflow
run of a tfmm run (`tfmm.tracking.tracker`)."""

from tfmm.tracking.config import TrackingConfig
from tfmm.tracking.tracker import RUN_FILE, Tracker, flatten, scalar_metrics

__all__ = ["RUN_FILE", "Tracker", "TrackingConfig", "flatten", "scalar_metrics"]
