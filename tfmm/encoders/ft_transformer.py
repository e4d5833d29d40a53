"""FT-Transformer (Gorishniy et al., "Revisiting Deep Learning Models for Tabular Data",
NeurIPS 2021): one token per column, a [CLS] token, pre-LN Transformer layers."""

from dataclasses import dataclass
from typing import Literal

import keras

from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.encoders.tabular_mlp import TabularEncoder, _check_state, tabular_inputs_and_tokens
from tfmm.layers.sequence import SequenceMask
from tfmm.layers.tabular import ClassToken
from tfmm.schema import ConfigError, positive, unit_interval
from tfmm._extras import require


@keras.saving.register_keras_serializable(package="tfmm")
class FTTransformerEncoder(TabularEncoder):
    """Numeric and categorical columns -> [batch, dim]: the [CLS] token after
    `num_layers` Transformer layers over the columns' tokens.

    Column tokens are the MLP encoder's (`TabularMLPEncoder`): a numeric column's
    piecewise-linear encoding (with its missing flag) through its own linear map, a
    categorical column's embedding. With `return_sequence=True` the encoder outputs every
    token ({"sequence", "mask"}), which the token-level fusions (`single_stream`,
    `cross_attention`) attend to beside the text's and the image's tokens.

    Args:
        state: dict. The input's fitted state (`tfmm.data.tabular.fit_tabular_state`).
        numeric: list of str. Numeric columns.
        categorical: list of str. Categorical columns.
        dim: int. Token width.
        num_layers: int. Transformer layers.
        num_heads: int. Attention heads (`dim` must divide by it).
        intermediate_dim: int. Feed-forward width.
        dropout: float. Dropout in the Transformer layers.
        return_sequence: bool. Output the tokens instead of the [CLS] vector.

    Example:

    >>> import numpy as np
    >>> state = {"numeric": {"n": {"edges": [0, 1, 2], "median": 1}}, "categorical": {}}
    >>> enc = FTTransformerEncoder(state, ["n"], dim=8, num_layers=1, num_heads=2,
    ...                            intermediate_dim=16)
    >>> tuple(enc(np.array([[0.5], [np.nan]], "float32")).shape)
    (2, 8)
    """

    def __init__(
        self,
        state,
        numeric=(),
        categorical=(),
        dim=32,
        num_layers=2,
        num_heads=4,
        intermediate_dim=64,
        dropout=0.1,
        return_sequence=False,
        **kwargs,
    ):
        keras_hub = require("keras_hub", "the ft_transformer encoder")

        numeric, categorical = list(numeric or []), list(categorical or [])
        _check_state(state, numeric, categorical)
        # === Functional Model ===
        inputs, tokens = tabular_inputs_and_tokens(state, numeric, categorical, dim)
        x = ClassToken(name="cls_token")(tokens)
        for k in range(num_layers):
            x = keras_hub.layers.TransformerEncoder(
                intermediate_dim,
                num_heads,
                dropout=dropout,
                normalize_first=True,
                name=f"transformer_{k}",
            )(x)
        x = keras.layers.LayerNormalization(name="final_norm")(x)
        if return_sequence:
            outputs = {"sequence": x, "mask": SequenceMask("all", name="mask")(x)}
        else:
            outputs = keras.layers.Identity(name="cls")(x[:, 0, :])
        named = {t.name: t for t in inputs}
        super().__init__(inputs=named if len(named) > 1 else inputs[0], outputs=outputs, **kwargs)

        # === Config ===
        self._keep_columns(state, numeric, categorical)
        self.dim = dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "dim": self.dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "return_sequence": self.return_sequence,
            }
        )
        return config


@dataclass(frozen=True)
class FTTransformerConfig(EncoderSpec):
    """FT-Transformer over the columns' tokens."""

    type: Literal["ft_transformer"] = "ft_transformer"
    # The width of each column token (must be divisible by num_heads).
    dim: int = 32
    # Pre-LN Transformer layers over the column tokens and the [CLS] token.
    num_layers: int = 2
    # Attention heads per layer.
    num_heads: int = 4
    # The feed-forward width of each layer.
    intermediate_dim: int = 64
    # Dropout in attention and feed-forward.
    dropout: float = 0.1

    def validate(self, path):
        positive(self, path, "dim", "num_layers", "num_heads", "intermediate_dim")
        if self.dim % self.num_heads:
            raise ConfigError(
                f"{path}.dim: must be a multiple of num_heads="
                f"{self.num_heads}. Received: dim={self.dim}"
            )
        unit_interval(self, path, "dropout")


@register_encoder("ft_transformer", config=FTTransformerConfig, modalities=("tabular",))
def build_ft_transformer(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    return FTTransformerEncoder(
        vocabulary,
        input_config.numeric,
        input_config.categorical,
        dim=cfg.dim,
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        intermediate_dim=cfg.intermediate_dim,
        dropout=cfg.dropout,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
