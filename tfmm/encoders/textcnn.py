"""TextCNN (Kim, 2014): embedding, parallel Conv1D, global max pooling, dropout."""

from dataclasses import dataclass, field
from typing import Literal

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.schema import ConfigError, positive, unit_interval
from tfmm.layers.sequence import SequenceMask


@keras.saving.register_keras_serializable(package="tfmm")
class TextCNNEncoder(Encoder):
    """Token ids [batch, sequence_length] -> [batch, filters * len(kernel_sizes)].

    Ids come from a `keras.layers.TextVectorization` (0 = padding, 1 = OOV). The adapted
    vocabulary is kept in this encoder's config, so a saved model carries it and the
    text preprocessor can be rebuilt from the model alone (`tfmm.data.text`).

    Args:
        vocab_size: int. Embedding rows (the vectorizer's `max_tokens`).
        sequence_length: int. Tokens per example.
        embedding_dim: int. Embedding width.
        kernel_sizes: list of int. One Conv1D branch per size.
        filters: int. Filters per branch.
        dropout: float. Dropout on the pooled features.
        vocabulary: list of str or None. The adapted vocabulary (kept for preprocessing).
        standardize: str. The vectorizer's standardization.
        return_sequence: bool. Output the per-token features instead: the convolutions
            run with "same" padding and their outputs are concatenated per token
            ([batch, sequence_length, filters * len(kernel_sizes)], padding masked).

    Example:

    >>> import numpy as np
    >>> enc = TextCNNEncoder(vocab_size=50, sequence_length=8, embedding_dim=4,
    ...                      kernel_sizes=[2, 3], filters=3)
    >>> tuple(enc(np.ones((2, 8), "int32")).shape)
    (2, 6)
    """

    primary_input = "token_ids"

    def __init__(
        self,
        vocab_size,
        sequence_length,
        embedding_dim=128,
        kernel_sizes=(3, 4, 5),
        filters=100,
        dropout=0.5,
        vocabulary=None,
        standardize="lower_and_strip_punctuation",
        return_sequence=False,
        **kwargs,
    ):
        # === Layers ===
        embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        padding = "same" if return_sequence else "valid"
        convs = [
            keras.layers.Conv1D(filters, k, activation="relu", padding=padding, name=f"conv_{k}")
            for k in kernel_sizes
        ]
        pools = [keras.layers.GlobalMaxPooling1D(name=f"max_pool_{k}") for k in kernel_sizes]
        drop = keras.layers.Dropout(dropout, name="dropout")

        # === Functional Model ===
        token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
        x = embedding(token_ids)
        if return_sequence:
            branches = [conv(x) for conv in convs]
        else:
            branches = [pool(conv(x)) for conv, pool in zip(convs, pools)]
        if len(branches) > 1:
            x = keras.layers.Concatenate(name="concat_branches")(branches)
        else:
            x = branches[0]
        outputs = drop(x)
        if return_sequence:
            outputs = {"sequence": outputs, "mask": SequenceMask("nonzero", name="mask")(token_ids)}
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.kernel_sizes = list(kernel_sizes)
        self.filters = filters
        self.dropout = dropout
        self.vocabulary = None if vocabulary is None else list(vocabulary)
        self.standardize = standardize
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "kernel_sizes": self.kernel_sizes,
                "filters": self.filters,
                "dropout": self.dropout,
                "vocabulary": self.vocabulary,
                "standardize": self.standardize,
                "return_sequence": self.return_sequence,
            }
        )
        return config


@dataclass(frozen=True)
class TextCNNConfig(EncoderSpec):
    """Kim (2014) TextCNN over TextVectorization token ids."""

    vocabulary_source, augments_tokens = "adapted", True

    type: Literal["textcnn"] = "textcnn"
    # The most frequent tokens of the training split kept (with padding and out-of-vocabulary).
    vocab_size: int = 20000
    # Tokens per example; longer text is truncated, shorter padded.
    sequence_length: int = 64
    # The width of each token's embedding.
    embedding_dim: int = 128
    # One convolution per width (in tokens), each max-pooled over the sequence.
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 4, 5])
    # Filters per kernel size (the output is len(kernel_sizes) x filters wide).
    filters: int = 100
    # Dropout on the pooled features.
    dropout: float = 0.5
    # "lower_and_strip_punctuation" (Keras's default) or "lower" or "none".
    standardize: Literal["lower_and_strip_punctuation", "lower", "none"] = (
        "lower_and_strip_punctuation"
    )

    def validate(self, path):
        positive(self, path, "vocab_size", "sequence_length", "embedding_dim", "filters")
        if self.vocab_size < 3:
            raise ConfigError(
                f"{path}.vocab_size: must be at least 3 (padding, OOV and one "
                f"token). Received: vocab_size={self.vocab_size}"
            )
        if not self.kernel_sizes or any(k <= 0 for k in self.kernel_sizes):
            raise ConfigError(
                f"{path}.kernel_sizes: must be a non-empty list of positive "
                f"ints. Received: kernel_sizes={self.kernel_sizes}"
            )
        if max(self.kernel_sizes) > self.sequence_length:
            raise ConfigError(
                f"{path}.kernel_sizes: a kernel is longer than sequence_length="
                f"{self.sequence_length}. Received: kernel_sizes={self.kernel_sizes}"
            )
        unit_interval(self, path, "dropout")


@register_encoder("textcnn", config=TextCNNConfig, modalities=("text",))
def build_textcnn(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    if vocabulary is not None and len(vocabulary) > cfg.vocab_size:
        raise ValueError(
            f"input {input_config.name!r}: the vocabulary has {len(vocabulary)} "
            f"entries but encoder.vocab_size={cfg.vocab_size}."
        )
    return TextCNNEncoder(
        vocab_size=cfg.vocab_size,
        sequence_length=cfg.sequence_length,
        embedding_dim=cfg.embedding_dim,
        kernel_sizes=cfg.kernel_sizes,
        filters=cfg.filters,
        dropout=cfg.dropout,
        vocabulary=vocabulary,
        standardize=cfg.standardize,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
