"""Custom Keras layers of tfmm, registered for `.keras` loading with safe_mode=True."""

from tfmm.layers.audio import (DownsampleMask, FrameMask, LogMelSpectrogram,
                               MaskedMeanMaxPooling, MaskedNormalize)
from tfmm.layers.fusion import (ApplyPresence, GateWeights, LateCombine, MaskedMeanPooling,
                                ModalityPresence, ModalityTypeEmbedding, WeightedSum)
from tfmm.layers.heads import Head
from tfmm.layers.image import CaffePreprocess
from tfmm.layers.sequence import SequenceMask

__all__ = ["ApplyPresence", "CaffePreprocess", "DownsampleMask", "FrameMask", "GateWeights",
           "Head", "LateCombine", "LogMelSpectrogram", "MaskedMeanMaxPooling",
           "MaskedMeanPooling", "MaskedNormalize", "ModalityPresence",
           "ModalityTypeEmbedding", "SequenceMask", "WeightedSum"]
