"""Text: raw UTF-8 strings -> the tensors of the input's encoder (in TensorFlow ops)."""

import os

import keras
import tensorflow as tf
from tfmm._extras import require


def read_vocabulary(path):
    """Reads a one-token-per-line vocabulary file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"BERT vocabulary file not found. Received: vocabulary={path!r}")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


def _standardize(name):
    return None if name == "none" else name


def adapt_vocabulary(texts, encoder_config):
    """Adapts a TextVectorization on `texts` (list of str); returns its vocabulary.

    The vocabulary starts with "" (padding, id 0) and "[UNK]" (OOV, id 1), as Keras's.
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=encoder_config.vocab_size,
        standardize=_standardize(encoder_config.standardize),
        output_mode="int",
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(512))
    return vectorizer.get_vocabulary()


def adapt_tfidf(texts, encoder_config):
    """The n-gram vocabulary (most frequent first, at most `vocab_size - 1`: entry 0 of
    the vector is out-of-vocabulary) and each n-gram's inverse document frequency
    `log(1 + documents / (1 + document frequency))` (Keras's) on `texts`."""
    import numpy as np

    texts = list(texts)
    adapted = keras.layers.TextVectorization(
        max_tokens=encoder_config.vocab_size,
        ngrams=encoder_config.ngrams,
        standardize=_standardize(encoder_config.standardize),
        output_mode="multi_hot",
    )
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(512)
    adapted.adapt(ds)
    tokens = [str(t) for t in adapted.get_vocabulary()[1:]]
    df = np.zeros(len(tokens) + 1)
    for batch in ds:
        df += adapted(batch).numpy().sum(axis=0)
    idf = np.log(1.0 + len(texts) / (1.0 + df[1:]))
    return {"tokens": tokens, "idf": [float(w) for w in idf]}


class TextPreprocessor:
    """Turns a scalar (or batched) string tensor into the encoder's named tensors.

    Args:
        input_config: `tfmm.inputs.InputConfig` of a text input.
        vocabulary: list of str. TextVectorization vocabulary (textcnn) or WordPiece
            vocabulary (bert); unused for hub.

    Example:

    >>> from tfmm.config import InputConfig, TextCNNConfig
    >>> cfg = InputConfig("t", "text", encoder=TextCNNConfig(sequence_length=4))
    >>> cfg.validate("x")
    >>> p = TextPreprocessor(cfg, ["", "[UNK]", "cat"])
    >>> p(tf.constant("Cat dog"))["t"].numpy().tolist()
    [2, 1, 0, 0]
    """

    def __init__(self, input_config, vocabulary=None):
        self.name = input_config.name
        cfg = input_config.encoder
        self.kind = cfg.vocabulary_source
        if self.kind == "adapted":
            if vocabulary is None:
                raise ValueError(
                    f"text input {self.name!r}: a textcnn input needs its adapted "
                    f"vocabulary (tfmm.data.fit_preprocessing builds it)."
                )
            self.layer = keras.layers.TextVectorization(
                max_tokens=cfg.vocab_size,
                standardize=_standardize(cfg.standardize),
                output_mode="int",
                output_sequence_length=cfg.sequence_length,
                vocabulary=[v for v in vocabulary if v not in ("", "[UNK]")],
            )
        elif self.kind == "wordpiece":
            keras_hub = require("keras_hub", "the bert encoder's tokenizer")

            if vocabulary is None:
                raise ValueError(
                    f"text input {self.name!r}: a bert input needs its WordPiece vocabulary."
                )
            tokenizer = keras_hub.models.BertTokenizer(
                vocabulary=vocabulary, lowercase=input_config.encoder.lowercase
            )
            self.layer = keras_hub.models.BertTextClassifierPreprocessor(
                tokenizer, sequence_length=cfg.sequence_length
            )
        elif self.kind == "tfidf":
            if vocabulary is None:
                raise ValueError(
                    f"text input {self.name!r}: a tfidf input needs its fitted "
                    f"vocabulary (tfmm.data.fit_preprocessing builds it)."
                )
            self.layer = keras.layers.TextVectorization(
                standardize=_standardize(cfg.standardize),
                ngrams=cfg.ngrams,
                output_mode="tf_idf",
                vocabulary=list(vocabulary["tokens"]),
                idf_weights=list(vocabulary["idf"]),
            )
        else:
            self.layer = None

    def __call__(self, text, pair=None):
        """The encoder's tensors for `text` (and, for a bert input with `pair_column`,
        its second segment `pair`: packed as `[CLS] text [SEP] pair [SEP]` with segment
        ids 0 and 1, the longer segment truncated first)."""
        if self.kind == "adapted":
            return {self.name: tf.cast(self.layer(text), tf.int32)}
        if self.kind == "tfidf":
            return {self.name: tf.cast(self.layer(text), tf.float32)}
        if self.kind == "wordpiece":
            # By keyword: a positional tuple would be read as (x, y).
            out = self.layer(x=text if pair is None else (text, pair))
            return {f"{self.name}_{k}": v for k, v in out.items()}
        return {self.name: text}


def bert_vocabulary(encoder_config):
    """The WordPiece vocabulary of a bert encoder config: its preset's, or its file's."""
    if encoder_config.preset is not None:
        keras_hub = require("keras_hub", "a bert preset's vocabulary")

        return keras_hub.models.BertTokenizer.from_preset(encoder_config.preset).get_vocabulary()
    return read_vocabulary(encoder_config.vocabulary)
