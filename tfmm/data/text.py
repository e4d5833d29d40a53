"""Text: raw UTF-8 strings -> the tensors of the input's encoder (in TensorFlow ops)."""

import os

import keras
import tensorflow as tf


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
        max_tokens=encoder_config.vocab_size, standardize=_standardize(encoder_config.standardize),
        output_mode="int")
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(512))
    return vectorizer.get_vocabulary()


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
                raise ValueError(f"text input {self.name!r}: a textcnn input needs its adapted "
                                 f"vocabulary (tfmm.data.fit_preprocessing builds it).")
            self.layer = keras.layers.TextVectorization(
                max_tokens=cfg.vocab_size, standardize=_standardize(cfg.standardize),
                output_mode="int", output_sequence_length=cfg.sequence_length,
                vocabulary=[v for v in vocabulary if v not in ("", "[UNK]")])
        elif self.kind == "wordpiece":
            import keras_hub

            if vocabulary is None:
                raise ValueError(f"text input {self.name!r}: a bert input needs its WordPiece "
                                 f"vocabulary.")
            tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary,
                                                       lowercase=input_config.encoder.lowercase)
            self.layer = keras_hub.models.BertTextClassifierPreprocessor(
                tokenizer, sequence_length=cfg.sequence_length)
        else:
            self.layer = None

    def __call__(self, text, pair=None):
        """The encoder's tensors for `text` (and, for a bert input with `pair_column`,
        its second segment `pair`: packed as `[CLS] text [SEP] pair [SEP]` with segment
        ids 0 and 1, the longer segment truncated first)."""
        if self.kind == "adapted":
            return {self.name: tf.cast(self.layer(text), tf.int32)}
        if self.kind == "wordpiece":
            # By keyword: a positional tuple would be read as (x, y).
            out = self.layer(x=text if pair is None else (text, pair))
            return {f"{self.name}_{k}": v for k, v in out.items()}
        return {self.name: text}
