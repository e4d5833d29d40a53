"""Training under tf.distribute with model.fit; evaluation and prediction."""

from tfmm.training.loop import TrainingError, evaluate, load_run, predict, train
from tfmm.training.strategy import get_strategy

__all__ = ["TrainingError", "evaluate", "get_strategy", "load_run", "predict", "train"]
