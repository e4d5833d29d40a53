"""Custom Keras layers of tfmm, registered for `.keras` loading with safe_mode=True."""

from tfmm.layers.audio import (
    DownsampleMask,
    FrameMask,
    LogMelSpectrogram,
    MaskedMeanMaxPooling,
    MaskedNormalize,
)
from tfmm.layers.augment import ImageAugmentation, SpecAugment, TokenDropout
from tfmm.layers.fusion import (
    ApplyPresence,
    GateWeights,
    GradientScale,
    LateCombine,
    MaskedMeanPooling,
    ModalityPresence,
    ModalityTypeEmbedding,
    WeightedSum,
)
from tfmm.layers.heads import Head
from tfmm.layers.image import CaffePreprocess, TorchPreprocess
from tfmm.layers.sequence import SequenceMask
from tfmm.layers.tabular import (
    CategoricalEmbedding,
    ClassToken,
    FeatureLinear,
    PiecewiseLinearEncoding,
)

__all__ = [
    "ApplyPresence",
    "CaffePreprocess",
    "CategoricalEmbedding",
    "ClassToken",
    "DownsampleMask",
    "FeatureLinear",
    "FrameMask",
    "GateWeights",
    "GradientScale",
    "Head",
    "ImageAugmentation",
    "LateCombine",
    "LogMelSpectrogram",
    "MaskedMeanMaxPooling",
    "MaskedMeanPooling",
    "MaskedNormalize",
    "ModalityPresence",
    "ModalityTypeEmbedding",
    "PiecewiseLinearEncoding",
    "SequenceMask",
    "SpecAugment",
    "TokenDropout",
    "TorchPreprocess",
    "WeightedSum",
]
