"""Concatenate fusion: the baseline."""

import keras

from tfmm.fusion.registry import register_fusion


@register_fusion("concat")
def concat_fusion(features, config):
    """`Concatenate` of the modality vectors, then Dense/Dropout layers.

    The layers are added to the fused model's own graph (not nested), so its summary shows
    every branch meeting at the one `fusion_concat` layer.

    Args:
        features: dict of input name -> [batch, dim] tensor.
        config: `tfmm.config.ConcatFusionConfig`.

    Example:

    >>> import keras
    >>> from tfmm.config import ConcatFusionConfig
    >>> f = {"a": keras.Input((3,)), "b": keras.Input((5,))}
    >>> concat_fusion(f, ConcatFusionConfig(hidden_units=[4])).shape
    (None, 4)
    """
    vectors = list(features.values())
    if config.normalize:
        vectors = [keras.layers.LayerNormalization(name=f"fusion_norm_{name}")(v)
                   for name, v in features.items()]
    x = keras.layers.Concatenate(name="fusion_concat")(vectors)
    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(units, activation=config.activation, name=f"fusion_dense_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"fusion_dropout_{i}")(x)
    return x
