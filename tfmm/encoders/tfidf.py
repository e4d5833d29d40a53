"""A bag of n-grams with TF-IDF weights under a small dense layer: the text encoder that
is strong on a few hundred examples without pretrained weights (it reads the words
themselves, as a scikit-learn TF-IDF + logistic regression does)."""

from dataclasses import dataclass
from typing import Literal

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.schema import ConfigError, positive, unit_interval


@keras.saving.register_keras_serializable(package="tfmm")
class SafeL2Normalize(keras.layers.Layer):
    """x / (||x|| + 1e-6) over the last axis: an empty text's all-zero vector stays zero.

    (Not `UnitNormalization`: TFLite converts that to its fused L2_NORMALIZATION, which
    returns NaN for a zero vector.)

    >>> import numpy as np
    >>> out = SafeL2Normalize()(np.array([[3.0, 4.0], [0.0, 0.0]], "float32")).numpy()
    >>> [[round(float(v), 3) for v in row] for row in out]
    [[0.6, 0.8], [0.0, 0.0]]
    """

    def call(self, x):
        norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(x), axis=-1, keepdims=True))
        return x / (norm + 1e-6)


@keras.saving.register_keras_serializable(package="tfmm")
class SublinearTf(keras.layers.Layer):
    """count * idf -> (1 + log(count)) * idf, entry by entry (scikit-learn's
    `sublinear_tf`): a word said five times counts about twice, not five times.

    Args:
        idf: list of float. The idf of each entry (entry 0: out of vocabulary).

    >>> import numpy as np
    >>> out = SublinearTf([2.0, 1.0])(np.array([[2.0, 3.0]], "float32")).numpy()
    >>> [round(float(v), 4) for v in out[0]]
    [2.0, 2.0986]
    """

    def __init__(self, idf, **kwargs):
        super().__init__(**kwargs)
        self.idf = [float(w) for w in idf]

    def call(self, x):
        idf = keras.ops.convert_to_tensor(self.idf, x.dtype)
        counts = x / keras.ops.maximum(idf, 1e-12)
        positive = counts > 0.5
        scaled = (1.0 + keras.ops.log(keras.ops.maximum(counts, 1.0))) * idf
        return keras.ops.where(positive, scaled, keras.ops.zeros_like(x))

    def get_config(self):
        config = super().get_config()
        config.update({"idf": self.idf})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class TfidfEncoder(Encoder):
    """TF-IDF vectors [batch, vocabulary + 1] -> [batch, units].

    The vector (count of each n-gram times its inverse document frequency, entry 0 for
    out-of-vocabulary n-grams) is made by `keras.layers.TextVectorization(output_mode=
    "tf_idf")` in the data pipeline and the serving signature (`tfmm.data.text`), and by
    the TensorFlow-free client's numpy twin (`tfmm.client.tfidf_vector`). Here it is
    L2-normalised (as scikit-learn's `TfidfVectorizer` does), dropped out, and mapped by
    one dense layer.

    Args:
        vocabulary: dict. {"tokens": [...], "idf": [...]} fitted on the training text.
        units: int. Output width.
        dropout: float. Dropout on the normalised vector (the input of the dense layer).
        ngrams: int. N-gram order the vocabulary was built with (kept for preprocessing).
        standardize: str. The vectorizer's standardization (kept for preprocessing).
        sublinear_tf: bool. Count a repeated n-gram as 1 + log(count) (`SublinearTf`).
        activation: str. The dense layer's activation ("linear": a linear model's
            features).

    Example:

    >>> import numpy as np
    >>> enc = TfidfEncoder({"tokens": ["a", "b"], "idf": [1.0, 1.0]}, units=4)
    >>> tuple(enc(np.ones((2, 3), "float32")).shape)
    (2, 4)
    """

    primary_input = "tfidf"

    def __init__(
        self,
        vocabulary,
        units=256,
        dropout=0.5,
        ngrams=2,
        standardize="lower_and_strip_punctuation",
        sublinear_tf=True,
        activation="relu",
        return_sequence=False,
        **kwargs,
    ):
        if return_sequence:
            raise ValueError(
                "tfidf: a bag of n-grams has no token sequence for the "
                "token-level fusions (single_stream, cross_attention); use "
                "textcnn or bert there. Received: return_sequence=True"
            )
        size = len(vocabulary["tokens"]) + 1
        # === Functional Model ===
        vector = keras.Input((size,), dtype="float32", name="tfidf")
        x = vector
        if sublinear_tf:
            idf = [
                sum(vocabulary["idf"]) / max(len(vocabulary["idf"]), 1),
                *vocabulary["idf"],
            ]  # entry 0: the mean idf, as Keras weighs OOV
            x = SublinearTf(idf, name="sublinear_tf")(x)
        x = SafeL2Normalize(name="l2_normalize")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = keras.layers.Dense(units, activation=activation, name="dense")(x)
        super().__init__(inputs=vector, outputs=outputs, **kwargs)

        # === Config ===
        self.vocabulary = {
            "tokens": list(vocabulary["tokens"]),
            "idf": [float(w) for w in vocabulary["idf"]],
        }
        self.units = units
        self.dropout = dropout
        self.ngrams = ngrams
        self.standardize = standardize
        self.sublinear_tf = sublinear_tf
        self.activation = activation
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "units": self.units,
                "dropout": self.dropout,
                "ngrams": self.ngrams,
                "standardize": self.standardize,
                "sublinear_tf": self.sublinear_tf,
                "activation": self.activation,
                "return_sequence": self.return_sequence,
            }
        )
        return config


@dataclass(frozen=True)
class TfidfConfig(EncoderSpec):
    """Bag of n-grams with TF-IDF weights, L2-normalised, under one dense layer."""

    vocabulary_source, has_tokens = "tfidf", False
    # SGD under `training.optimizer: auto` (see `EncoderSpec.trains_with`).
    trains_with = "sgd"

    type: Literal["tfidf"] = "tfidf"
    # The most frequent n-grams of the training split kept (the rest count as out of vocabulary).
    vocab_size: int = 20000
    # n-grams from 1 to this (2: words and word pairs).
    ngrams: int = 2
    # Width of the dense layer over the TF-IDF vector (the encoder's output). 256 over 64:
    # chosen on the real table's validation rows (`python -m benchmarks.tables --choose`).
    units: int = 256
    # Dropout on the TF-IDF vector, in training only.
    dropout: float = 0.5
    # Term counts as 1 + log(count), as scikit-learn's sublinear_tf.
    sublinear_tf: bool = True
    # The dense layer's activation.
    activation: Literal["relu", "linear", "gelu", "tanh"] = "relu"
    # "lower_and_strip_punctuation" (Keras's default), "lower" or "none".
    standardize: Literal["lower_and_strip_punctuation", "lower", "none"] = (
        "lower_and_strip_punctuation"
    )

    def onnx_refusal(self, input_type):
        return None

    def validate(self, path):
        positive(self, path, "vocab_size", "ngrams", "units")
        if self.vocab_size < 2:
            raise ConfigError(
                f"{path}.vocab_size: must be at least 2 (out-of-vocabulary "
                f"and one n-gram). Received: vocab_size={self.vocab_size}"
            )
        unit_interval(self, path, "dropout")


@register_encoder("tfidf", config=TfidfConfig, modalities=("text",))
def build_tfidf(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    if vocabulary is None:
        raise ValueError(
            f"input {input_config.name!r}: a tfidf encoder needs its fitted "
            f"vocabulary and idf weights (tfmm.data.fit_preprocessing)."
        )
    return TfidfEncoder(
        vocabulary,
        units=cfg.units,
        dropout=cfg.dropout,
        ngrams=cfg.ngrams,
        standardize=cfg.standardize,
        sublinear_tf=cfg.sublinear_tf,
        activation=cfg.activation,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
