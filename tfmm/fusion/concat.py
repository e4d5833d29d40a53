"""Concatenate fusion: the baseline."""

from dataclasses import dataclass
from typing import Literal

import keras

from tfmm.fusion.registry import (
    VectorFusionBase,
    dense_stack,
    normalized,
    register_fusion,
    with_presence,
)


@dataclass(frozen=True)
class ConcatFusionConfig(VectorFusionBase):
    """Concatenate the per-modality vectors, then Dense/Dropout layers."""

    type: Literal["concat"] = "concat"


@register_fusion("concat", config=ConcatFusionConfig)
def concat_fusion(features, config, presence=None, outputs=()):
    """`Concatenate` of the modality vectors, then Dense/Dropout layers.

    The layers are added to the fused model's own graph (not nested), so its summary shows
    every branch meeting at the one `fusion_concat` layer. A missing modality's vector is
    zeroed (after the optional LayerNorm, so it is exactly zero).

    Args:
        features: dict of input name -> [batch, dim] tensor.
        config: `ConcatFusionConfig`.
        presence: None or float32 [batch, modalities].
        outputs: unused.

    Example:

    >>> import keras
    >>> f = {"a": keras.Input((3,)), "b": keras.Input((5,))}
    >>> concat_fusion(f, ConcatFusionConfig(hidden_units=[4])).shape
    (None, 4)
    """
    vectors = normalized(features, config.normalize, "fusion_norm")
    vectors = with_presence(vectors, presence, "fusion_presence")
    x = keras.layers.Concatenate(name="fusion_concat")(list(vectors.values()))
    return dense_stack(x, config)
