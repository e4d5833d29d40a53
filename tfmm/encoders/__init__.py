"""Encoders, one module each: its config class and builder registered together under the
config's `encoder.type`.

Every module of this package is imported here (registration happens by defining the
encoder in a module of the package; no list to edit)."""

import importlib as _importlib
import pkgutil as _pkgutil

from tfmm.encoders.applications import ApplicationEncoder, ResNet50Encoder
from tfmm.encoders.base import Encoder
from tfmm.encoders.bert import BertEncoder
from tfmm.encoders.cnn import AudioCNNEncoder, ImageCNNEncoder
from tfmm.encoders.hub import HubEncoder
from tfmm.encoders.keras_hub_audio import KerasHubAudioEncoder
from tfmm.encoders.keras_hub_image import KerasHubImageEncoder
from tfmm.encoders.lstm_audio import LSTMAudioEncoder
from tfmm.encoders.registry import (
    ENCODER_CONFIGS,
    ENCODER_MODALITIES,
    ENCODERS,
    EncoderSpec,
    build_encoder,
    register_encoder,
)
from tfmm.encoders.tabular_mlp import TabularMLPEncoder
from tfmm.encoders.textcnn import TextCNNEncoder
from tfmm.encoders.tfidf import TfidfEncoder

for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "ENCODERS",
    "ENCODER_CONFIGS",
    "ENCODER_MODALITIES",
    "ApplicationEncoder",
    "AudioCNNEncoder",
    "BertEncoder",
    "Encoder",
    "EncoderSpec",
    "HubEncoder",
    "ImageCNNEncoder",
    "KerasHubAudioEncoder",
    "KerasHubImageEncoder",
    "LSTMAudioEncoder",
    "ResNet50Encoder",
    "TabularMLPEncoder",
    "TextCNNEncoder",
    "TfidfEncoder",
    "build_encoder",
    "register_encoder",
]
