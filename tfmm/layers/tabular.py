"""Layers of the tabular encoders: numbers embedded piecewise-linearly, categories
embedded, one token per column.

All of them are elementwise ops, gathers and sums, so the encoders convert to ONNX and
TFLite; a NaN is found as `x != x` (TFLite has no IsNan).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfmm")
class PiecewiseLinearEncoding(keras.layers.Layer):
    """Raw numbers [batch, columns] (NaN = missing) -> [batch, columns, bins + 1].

    The piecewise-linear encoding of Gorishniy et al., "On Embeddings for Numerical
    Features in Tabular Deep Learning" (NeurIPS 2022), over quantile bins fitted on the
    training split: entry t of a column is 0 below bin t, 1 above it, and the fraction
    of the bin inside it, so the encoding is monotone, bounded (a value far out in a
    heavy tail or outside the training range saturates at 0 or 1) and scale-free. The
    last entry is the missing indicator: a missing value is imputed by the column's
    training median and flagged 1.

    Args:
        edges: list of lists of float. Each column's `bins + 1` increasing bin edges.
        medians: list of float. Each column's imputed value.

    Example:

    >>> import numpy as np
    >>> layer = PiecewiseLinearEncoding(edges=[[0.0, 10.0, 20.0]], medians=[10.0])
    >>> layer(np.array([[15.0], [-5.0], [np.nan]], "float32")).numpy().tolist()
    [[[1.0, 0.5, 0.0]], [[0.0, 0.0, 0.0]], [[1.0, 0.0, 1.0]]]
    """

    def __init__(self, edges, medians, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.edges = [[float(e) for e in col] for col in edges]
        self.medians = [float(m) for m in medians]
        if len(self.edges) != len(self.medians) or len({len(e) for e in self.edges}) > 1:
            raise ValueError(
                f"PiecewiseLinearEncoding: one edge list (all of one length) "
                f"and one median per column. Received: {len(self.edges)} "
                f"edge lists of lengths {sorted({len(e) for e in self.edges})}"
                f" and {len(self.medians)} medians"
            )

    def call(self, x):
        x = ops.cast(x, "float32")
        missing = ops.not_equal(x, x)
        x = ops.where(missing, ops.convert_to_tensor(self.medians, "float32"), x)
        edges = ops.convert_to_tensor(self.edges, "float32")  # [columns, bins + 1]
        low, high = edges[:, :-1], edges[:, 1:]
        # A bin of zero width (a repeated quantile: a value many rows share) is a step.
        width = ops.maximum(high - low, 1e-9)
        bins = ops.clip((ops.expand_dims(x, -1) - low) / width, 0.0, 1.0)
        return ops.concatenate([bins, ops.expand_dims(ops.cast(missing, "float32"), -1)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape, len(self.edges[0]))

    def get_config(self):
        config = super().get_config()
        config.update({"edges": self.edges, "medians": self.medians})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class FeatureLinear(keras.layers.Layer):
    """One linear map per column: [batch, columns, features] -> [batch, columns, dim].

    Args:
        dim: int. Output width per column.

    Example:

    >>> import numpy as np
    >>> tuple(FeatureLinear(4)(np.ones((2, 3, 5), "float32")).shape)
    (2, 3, 4)
    """

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)

    def build(self, input_shape):
        columns, features = int(input_shape[-2]), int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(columns, features, self.dim), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(columns, self.dim), initializer="zeros")

    def call(self, x):
        # A broadcast multiply and a sum, not einsum: both convert to ONNX and TFLite.
        return ops.sum(ops.expand_dims(x, -1) * self.kernel, axis=-2) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self):
        config = super().get_config()
        config.update({"dim": self.dim})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class CategoricalEmbedding(keras.layers.Layer):
    """Category ids [batch, columns] -> [batch, columns, dim], one table per column
    (stored as one weight with per-column offsets).

    Ids are 0 (missing), 1 (unseen in training) and 2.. (the training categories); an id
    past a column's table (a category list that changed) reads as unseen.

    Args:
        cardinalities: list of int. Rows of each column's table (categories + 2).
        dim: int. Embedding width.

    Example:

    >>> import numpy as np
    >>> layer = CategoricalEmbedding([4, 3], 2)
    >>> tuple(layer(np.array([[0, 2], [3, 9]], "int32")).shape)
    (2, 2, 2)
    """

    def __init__(self, cardinalities, dim, **kwargs):
        super().__init__(**kwargs)
        self.cardinalities = [int(c) for c in cardinalities]
        self.dim = int(dim)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(sum(self.cardinalities), self.dim), initializer="uniform"
        )

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        sizes = ops.convert_to_tensor(self.cardinalities, "int32")
        ids = ops.where(ops.logical_or(ids < 0, ids >= sizes), 1, ids)
        offsets = [0]
        for c in self.cardinalities[:-1]:
            offsets.append(offsets[-1] + c)
        return ops.take(self.embeddings, ids + ops.convert_to_tensor(offsets, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        config = super().get_config()
        config.update({"cardinalities": self.cardinalities, "dim": self.dim})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class ClassToken(keras.layers.Layer):
    """Prepends one learned token to a sequence: [batch, tokens, dim] -> [batch, tokens +
    1, dim] (the [CLS] token an FT-Transformer reads its output from).

    Example:

    >>> import numpy as np
    >>> tuple(ClassToken()(np.zeros((2, 3, 4), "float32")).shape)
    (2, 4, 4)
    """

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token",
            shape=(int(input_shape[-1]),),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, x):
        batch = ops.shape(x)[0]
        cls = ops.broadcast_to(
            ops.reshape(ops.cast(self.token, x.dtype), (1, 1, -1)), (batch, 1, ops.shape(x)[-1])
        )
        return ops.concatenate([cls, x], axis=1)

    def compute_output_shape(self, input_shape):
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[2])
