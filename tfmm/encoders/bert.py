"""BERT text encoder: keras-hub `BertBackbone`, pooled or mean-pooled, trainable/frozen/LoRA."""

from dataclasses import dataclass
from typing import Literal, Optional

import keras

from tfmm.data.text import read_vocabulary
from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.schema import ConfigError, positive, unit_interval
from tfmm._extras import require


@keras.saving.register_keras_serializable(package="tfmm")
class BertEncoder(Encoder):
    """BERT token ids, segment ids and padding mask -> [batch, hidden_dim].

    Takes the backbone as a constructor argument and serialises it (keras-hub's composite
    style), so a saved model rebuilds the backbone from its config and never re-reads a
    preset. The WordPiece vocabulary is kept in the config too, so the tokenizer can be
    rebuilt from the model alone.

    Args:
        backbone: `keras_hub.models.BertBackbone`.
        sequence_length: int. Tokens per example after packing.
        pooling: "pooled" (the [CLS] pooler) or "mean" (mean of the sequence output over
            non-padding tokens).
        frozen: bool. Freeze the backbone.
        lora_rank: int or None. Enable LoRA of this rank on the backbone (its other
            weights are then frozen).
        vocabulary: list of str or None. WordPiece vocabulary, for the tokenizer.
        lowercase: bool. Tokenizer lowercasing.
        return_sequence: bool. Output {"sequence": the sequence output, "mask": the
            padding mask} instead of the pooled vector.

    Example:

    >>> import keras_hub, numpy as np
    >>> backbone = keras_hub.models.BertBackbone(vocabulary_size=20, num_layers=1,
    ...     num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=8)
    >>> enc = BertEncoder(backbone, sequence_length=8, pooling="mean")
    >>> x = {"token_ids": np.ones((2, 8), "int32"), "segment_ids": np.zeros((2, 8), "int32"),
    ...      "padding_mask": np.ones((2, 8), "bool")}
    >>> tuple(enc(x).shape)
    (2, 8)
    """

    def __init__(
        self,
        backbone,
        sequence_length=128,
        pooling="pooled",
        frozen=False,
        lora_rank=None,
        vocabulary=None,
        lowercase=True,
        return_sequence=False,
        **kwargs,
    ):
        if pooling not in ("pooled", "mean"):
            raise ValueError(
                f"BertEncoder: pooling must be 'pooled' or 'mean'. Received: pooling={pooling!r}"
            )
        # === Layers ===
        if lora_rank:
            backbone.enable_lora(lora_rank)
        if frozen:
            backbone.trainable = False
        mean_pool = keras.layers.GlobalAveragePooling1D(name="mean_pool")

        # === Functional Model ===
        inputs = {
            "token_ids": keras.Input((sequence_length,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input((sequence_length,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input((sequence_length,), dtype="bool", name="padding_mask"),
        }
        out = backbone(inputs)
        if return_sequence:
            outputs = {
                "sequence": out["sequence_output"],
                "mask": keras.layers.Identity(name="mask")(inputs["padding_mask"]),
            }
        elif pooling == "pooled":
            outputs = out["pooled_output"]
        else:
            outputs = mean_pool(out["sequence_output"], mask=inputs["padding_mask"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.sequence_length = sequence_length
        self.pooling = pooling
        self.frozen = frozen
        self.lora_rank = lora_rank
        self.vocabulary = None if vocabulary is None else list(vocabulary)
        self.lowercase = lowercase
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.backbone),
                "sequence_length": self.sequence_length,
                "pooling": self.pooling,
                "frozen": self.frozen,
                "lora_rank": self.lora_rank,
                "vocabulary": self.vocabulary,
                "lowercase": self.lowercase,
                "return_sequence": self.return_sequence,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


@dataclass(frozen=True)
class BertConfig(EncoderSpec):
    """keras-hub BertBackbone, from a preset or from explicit sizes.

    With `preset` (a local preset directory or a Kaggle/HF handle) the backbone and its
    tokenizer come from the preset. Without it, the sizes below are used and `vocabulary`
    must name a WordPiece vocabulary file (one token per line).
    """

    vocabulary_source, packs_pairs, pretrains_masked_lm = "wordpiece", True, True

    type: Literal["bert"] = "bert"
    # A keras-hub preset: a local preset directory or a Kaggle / Hugging Face handle (downloaded
    # once); the backbone, its weights and its tokenizer come from it, and the size keys below are
    # not used.
    preset: Optional[str] = None
    # Without a preset: a WordPiece vocabulary file, one token per line.
    vocabulary: Optional[str] = None
    # Without a preset: lowercase the text before WordPiece (an uncased vocabulary).
    lowercase: bool = True
    # Without a preset: Transformer layers.
    num_layers: int = 2
    # Without a preset: attention heads (must divide hidden_dim).
    num_heads: int = 2
    # Without a preset: the width of every token vector.
    hidden_dim: int = 128
    # Without a preset: the feed-forward width of each layer.
    intermediate_dim: int = 512
    # Without a preset: dropout inside the backbone.
    dropout: float = 0.1
    # Without a preset: the longest sequence the position embedding holds.
    max_sequence_length: int = 512
    # Tokens per example after packing ([CLS] and [SEP] included); longer text is truncated.
    sequence_length: int = 128
    # "pooled": the [CLS] token through BERT's pooler; "mean": the mean of the valid token vectors.
    pooling: Literal["pooled", "mean"] = "pooled"
    # false freezes the backbone (only the fusion and heads train).
    trainable: bool = True
    # Train rank-r LoRA adapters on the attention projections instead of every backbone weight
    # (keras-hub's enable_lora); null: off.
    lora_rank: Optional[int] = None

    def validate(self, path):
        if self.preset is None and self.vocabulary is None:
            raise ConfigError(
                f"{path}: a bert encoder needs either `preset` (a preset "
                f"directory or handle) or `vocabulary` (a WordPiece vocabulary "
                f"file). Received neither."
            )
        positive(
            self,
            path,
            "num_layers",
            "num_heads",
            "hidden_dim",
            "intermediate_dim",
            "sequence_length",
            "max_sequence_length",
        )
        if self.hidden_dim % self.num_heads:
            raise ConfigError(
                f"{path}.hidden_dim: must be divisible by num_heads="
                f"{self.num_heads}. Received: hidden_dim={self.hidden_dim}"
            )
        if self.preset is None and self.sequence_length > self.max_sequence_length:
            raise ConfigError(
                f"{path}.sequence_length: must be <= max_sequence_length="
                f"{self.max_sequence_length}. Received: "
                f"sequence_length={self.sequence_length}"
            )
        if self.lora_rank is not None and self.lora_rank <= 0:
            raise ConfigError(
                f"{path}.lora_rank: must be a positive int or null. "
                f"Received: lora_rank={self.lora_rank}"
            )
        unit_interval(self, path, "dropout")


@register_encoder("bert", config=BertConfig, modalities=("text",))
def build_bert(input_config, vocabulary=None, return_sequence=False):
    keras_hub = require("keras_hub", "the bert encoder")

    cfg = input_config.encoder
    if cfg.preset is not None:
        # A local preset directory or a hub handle (the latter downloads once).
        backbone = keras_hub.models.BertBackbone.from_preset(cfg.preset)
        tokenizer = keras_hub.models.BertTokenizer.from_preset(cfg.preset)
        vocab = tokenizer.get_vocabulary()
        lowercase = tokenizer.lowercase
        if cfg.sequence_length > backbone.max_sequence_length:
            raise ValueError(
                f"input {input_config.name!r}: encoder.sequence_length="
                f"{cfg.sequence_length} exceeds the preset's max_sequence_length="
                f"{backbone.max_sequence_length}."
            )
    else:
        vocab = read_vocabulary(cfg.vocabulary)
        lowercase = cfg.lowercase
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(vocab),
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            hidden_dim=cfg.hidden_dim,
            intermediate_dim=cfg.intermediate_dim,
            dropout=cfg.dropout,
            max_sequence_length=cfg.max_sequence_length,
            name=f"{input_config.name}_bert_backbone",
        )
    return BertEncoder(
        backbone,
        sequence_length=cfg.sequence_length,
        pooling=cfg.pooling,
        frozen=not cfg.trainable,
        lora_rank=cfg.lora_rank,
        vocabulary=vocab,
        lowercase=lowercase,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
