"""Gated fusion: input-dependent softmax weights over the modalities."""

import keras

from tfmm.fusion.registry import dense_stack, register_fusion, with_presence
from tfmm.layers.fusion import GateWeights, WeightedSum


@register_fusion("gated")
def gated_fusion(features, config, presence=None, outputs=()):
    """A learned, per-example weighting of the modalities.

    Each modality vector is projected to `config.dim` (Dense, tanh). A Dense layer reads
    all projections together and gives one logit per modality; `GateWeights` (the layer
    named `fusion_gate`) turns them into softmax weights over the modalities present. The
    fused vector is the weighted sum of the projections, then `hidden_units`.

    The gate weights are not a training output (Keras's `fit` wants a target for every
    output); `tfmm.models.inspection_model(model)` returns them as `fusion_gate`, and
    every export serves them as an extra output.

    Args:
        features: dict of input name -> [batch, dim] tensor.
        config: `tfmm.config.GatedFusionConfig`.
        presence: None or float32 [batch, modalities].
        outputs: unused.

    Example:

    >>> import keras
    >>> from tfmm.config import GatedFusionConfig
    >>> f = {"a": keras.Input((3,)), "b": keras.Input((5,))}
    >>> gated_fusion(f, GatedFusionConfig(dim=4, hidden_units=[2])).shape
    (None, 2)
    """
    projected = {name: keras.layers.Dense(config.dim, activation="tanh",
                                          name=f"fusion_project_{name}")(v)
                 for name, v in features.items()}
    # Zeroed before the gate reads them, so a missing modality's content cannot move the
    # other modalities' weights either.
    projected = with_presence(projected, presence, "fusion_presence")
    vectors = list(projected.values())
    joined = vectors[0] if len(vectors) == 1 else \
        keras.layers.Concatenate(name="fusion_gate_input")(vectors)
    logits = keras.layers.Dense(len(vectors), name="fusion_gate_logits")(joined)
    gate = GateWeights(name="fusion_gate")(logits, presence)
    x = WeightedSum(name="fusion_weighted_sum")(vectors, gate)
    return dense_stack(x, config)
