"""Training under tf.distribute with model.fit; evaluation and prediction."""

from tfmm.training.inference import evaluate, load_run, predict
from tfmm.training.loop import TrainingError, train
from tfmm.training.strategy import get_strategy

__all__ = ["TrainingError", "evaluate", "get_strategy", "load_run", "predict", "train"]
