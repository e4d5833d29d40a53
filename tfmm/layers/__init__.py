"""Custom Keras layers of tfmm, registered for `.keras` loading with safe_mode=True."""

from tfmm.layers.audio import FrameMask, LogMelSpectrogram
from tfmm.layers.heads import Head
from tfmm.layers.image import CaffePreprocess

__all__ = ["CaffePreprocess", "FrameMask", "Head", "LogMelSpectrogram"]
