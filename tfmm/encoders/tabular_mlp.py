"""The default tabular encoder: numbers embedded piecewise-linearly, categories embedded,
an MLP over the columns' tokens (Gorishniy et al. 2022's MLP-PLE)."""

from dataclasses import dataclass, field
from typing import Literal

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.registry import EncoderSpec, encoder_name, register_encoder
from tfmm.layers.sequence import SequenceMask
from tfmm.layers.tabular import CategoricalEmbedding, FeatureLinear, PiecewiseLinearEncoding
from tfmm.schema import ConfigError, positive, unit_interval


def tabular_inputs_and_tokens(state, numeric, categorical, dim):
    """(inputs, tokens): the encoder's named inputs (`numeric` float32 [batch, n] with NaN
    for missing, `categorical` int32 [batch, k] ids) and one token per column
    [batch, n + k, dim]. Shared by the tabular encoders."""
    inputs, tokens = [], []
    if numeric:
        num = keras.Input((len(numeric),), dtype="float32", name="numeric")
        stats = [state["numeric"][c] for c in numeric]
        x = PiecewiseLinearEncoding(
            [s["edges"] for s in stats], [s["median"] for s in stats], name="numeric_encoding"
        )(num)
        tokens.append(FeatureLinear(dim, name="numeric_tokens")(x))
        inputs.append(num)
    if categorical:
        cat = keras.Input((len(categorical),), dtype="int32", name="categorical")
        sizes = [len(state["categorical"][c]) + 2 for c in categorical]
        tokens.append(CategoricalEmbedding(sizes, dim, name="categorical_tokens")(cat))
        inputs.append(cat)
    if len(tokens) > 1:
        return inputs, keras.layers.Concatenate(axis=1, name="column_tokens")(tokens)
    return inputs, tokens[0]


def _check_state(state, numeric, categorical):
    if state is None:
        raise ValueError(
            "a tabular encoder needs the input's fitted state (numeric bin "
            "edges and medians, category lists): tfmm.data.fit_preprocessing "
            "builds it"
        )
    for c in numeric:
        if c not in state.get("numeric", {}):
            raise ValueError(
                f"tabular state has no numeric column {c!r}. Received columns: "
                f"{sorted(state.get('numeric', {}))}"
            )
    for c in categorical:
        if c not in state.get("categorical", {}):
            raise ValueError(
                f"tabular state has no categorical column {c!r}. Received "
                f"columns: {sorted(state.get('categorical', {}))}"
            )


class TabularEncoder(Encoder):
    """The base of the tabular encoders: the fitted state, the columns, and the state
    read as a vocabulary (`tfmm.data.preprocessor.vocabularies_from_model`)."""

    def _keep_columns(self, state, numeric, categorical):
        self.state = state
        self.numeric = numeric
        self.categorical = categorical

    @property
    def vocabulary(self):
        return self.state

    def get_config(self):
        config = super().get_config()
        config.update(
            {"state": self.state, "numeric": self.numeric, "categorical": self.categorical}
        )
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class TabularMLPEncoder(TabularEncoder):
    """Numeric and categorical columns -> [batch, hidden_units[-1]].

    Each numeric column is encoded piecewise-linearly over its training quantiles (with
    a missing indicator) and mapped by its own linear layer to a `dim`-wide token; each
    categorical column gets a `dim`-wide embedding (rows for missing and unseen). The
    tokens go through a ReLU, are flattened and pass an MLP.

    Args:
        state: dict. The input's fitted state (`tfmm.data.tabular.fit_tabular_state`).
        numeric: list of str. Numeric columns, in input order.
        categorical: list of str. Categorical columns, in input order.
        dim: int. Token width per column.
        hidden_units: list of int. The MLP's layers.
        dropout: float. Dropout after each MLP layer.
        return_sequence: bool. Output the column tokens ({"sequence", "mask"}) instead.

    Example:

    >>> import numpy as np
    >>> state = {"numeric": {"n": {"edges": [0, 1, 2], "median": 1}},
    ...          "categorical": {"c": ["a"]}}
    >>> enc = TabularMLPEncoder(state, ["n"], ["c"], dim=4, hidden_units=[8])
    >>> tuple(enc({"numeric": np.array([[0.5]], "float32"),
    ...            "categorical": np.array([[2]], "int32")}).shape)
    (1, 8)
    """

    def __init__(
        self,
        state,
        numeric=(),
        categorical=(),
        dim=16,
        hidden_units=(128,),
        dropout=0.1,
        return_sequence=False,
        **kwargs,
    ):
        numeric, categorical = list(numeric or []), list(categorical or [])
        _check_state(state, numeric, categorical)
        # === Functional Model ===
        inputs, tokens = tabular_inputs_and_tokens(state, numeric, categorical, dim)
        if return_sequence:
            outputs = {"sequence": tokens, "mask": SequenceMask("all", name="mask")(tokens)}
        else:
            x = keras.layers.Flatten(name="flatten")(keras.layers.ReLU(name="token_relu")(tokens))
            for k, units in enumerate(hidden_units):
                x = keras.layers.Dense(units, activation="relu", name=f"dense_{k}")(x)
                x = keras.layers.Dropout(dropout, name=f"dropout_{k}")(x)
            outputs = x
        named = {t.name: t for t in inputs}
        super().__init__(inputs=named if len(named) > 1 else inputs[0], outputs=outputs, **kwargs)

        # === Config ===
        self._keep_columns(state, numeric, categorical)
        self.dim = dim
        self.hidden_units = list(hidden_units)
        self.dropout = dropout
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "dim": self.dim,
                "hidden_units": self.hidden_units,
                "dropout": self.dropout,
                "return_sequence": self.return_sequence,
            }
        )
        return config


@dataclass(frozen=True)
class TabularMLPConfig(EncoderSpec):
    """MLP over piecewise-linear number embeddings and category embeddings."""

    trains_with = None  # either optimizer (`EncoderSpec.trains_with`)

    type: Literal["mlp"] = "mlp"
    # The width of each column's embedding (numbers: piecewise-linear over their bins; categories: a
    # lookup).
    dim: int = 16
    # Dense layers over the concatenated column embeddings.
    hidden_units: list[int] = field(default_factory=lambda: [128])
    # Dropout after each dense layer.
    dropout: float = 0.1

    def validate(self, path):
        positive(self, path, "dim")
        if not self.hidden_units or any(u <= 0 for u in self.hidden_units):
            raise ConfigError(
                f"{path}.hidden_units: must be a non-empty list of positive "
                f"ints. Received: hidden_units={self.hidden_units}"
            )
        unit_interval(self, path, "dropout")


@register_encoder("mlp", config=TabularMLPConfig, modalities=("tabular",))
def build_tabular_mlp(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    return TabularMLPEncoder(
        vocabulary,
        input_config.numeric,
        input_config.categorical,
        dim=cfg.dim,
        hidden_units=cfg.hidden_units,
        dropout=cfg.dropout,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
