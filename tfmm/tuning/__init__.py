"""Hyperparameter search (`tfmm tune`) on KerasTuner: the space (`tfmm.tuning.space`)
and the search (`tfmm.tuning.search`). KerasTuner is the `tfmm[tune]` extra."""

from tfmm.tuning.search import ALGORITHMS, TuningError, tune
from tfmm.tuning.space import Dimension, Space, SpaceError

__all__ = ["ALGORITHMS", "Dimension", "Space", "SpaceError", "TuningError", "tune"]
