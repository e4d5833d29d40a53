"""Encoders, one module each, registered by the config's `encoder.type`."""

from tfmm.encoders.applications import ApplicationEncoder
from tfmm.encoders.base import Encoder
from tfmm.encoders.bert import BertEncoder
from tfmm.encoders.cnn import AudioCNNEncoder, ImageCNNEncoder
from tfmm.encoders.hub import HubEncoder
from tfmm.encoders.keras_hub_audio import KerasHubAudioEncoder
from tfmm.encoders.keras_hub_image import KerasHubImageEncoder
from tfmm.encoders.lstm_audio import LSTMAudioEncoder
from tfmm.encoders.registry import ENCODERS, build_encoder, register_encoder
from tfmm.encoders.resnet import ResNet50Encoder
from tfmm.encoders.textcnn import TextCNNEncoder

__all__ = ["ENCODERS", "ApplicationEncoder", "AudioCNNEncoder", "BertEncoder", "Encoder",
           "HubEncoder", "ImageCNNEncoder", "KerasHubAudioEncoder", "KerasHubImageEncoder", "LSTMAudioEncoder",
           "ResNet50Encoder", "TextCNNEncoder", "build_encoder", "register_encoder"]
