"""tf.data pipelines from real media files (manifests, TFRecord shards, TFDS)."""

from tfmm.data.check import check_manifest
from tfmm.data.demo import make_demo_dataset
from tfmm.data.errors import DataError, Problem
from tfmm.data.manifest import Manifest
from tfmm.data.pipeline import load_manifest, make_dataset
from tfmm.data.preprocessor import (
    Preprocessor,
    fit_preprocessing,
    fit_text_vocabularies,
    vocabularies_from_model,
)
from tfmm.data.stream import ParquetStream
from tfmm.data.tfrecord import write_tfrecords

__all__ = [
    "DataError",
    "Manifest",
    "ParquetStream",
    "Preprocessor",
    "Problem",
    "check_manifest",
    "fit_preprocessing",
    "fit_text_vocabularies",
    "load_manifest",
    "make_dataset",
    "make_demo_dataset",
    "vocabularies_from_model",
    "write_tfrecords",
]
