"""Gated fusion: input-dependent softmax weights over the modalities."""

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
from tfmm.layers.fusion import ApplyPresence, GateWeights, WeightedSum
from tfmm.schema import positive


@dataclass(frozen=True)
class GatedFusionConfig(VectorFusionBase):
    """Each modality vector projected to `dim`; a softmax gate computed from all of them
    weighs the projections per example; their weighted sum (`combine: sum`, the gated
    multimodal unit) or the concatenation of the weighted projections (`combine: concat`,
    which keeps each modality's features apart) goes through `hidden_units`.
    The gate weights are the `fusion_gate` layer's output (see
    `tfmm.models.inspection_model`) and an extra output of every export."""

    type: Literal["gated"] = "gated"
    # "sum": the gate-weighted sum of the projections (for redundant modalities); "concat": the
    # weighted projections side by side (for complementary ones).
    combine: Literal["sum", "concat"] = "sum"
    # Width each modality vector is projected to.
    dim: int = 256

    def validate(self, path):
        super().validate(path)
        positive(self, path, "dim")


@register_fusion("gated", config=GatedFusionConfig, inspection_outputs=("fusion_gate",))
def gated_fusion(features, config, presence=None, outputs=()):
    """A learned, per-example weighting of the modalities.

    Each modality vector is layer-normalised (`normalize`) and projected to `config.dim`
    (Dense, tanh). A Dense layer reads
    all projections together and gives one logit per modality; `GateWeights` (the layer
    named `fusion_gate`) turns them into softmax weights over the modalities present. The
    fused vector is the weighted sum of the projections (`combine: sum`), or the
    projections each scaled by its weight times the number of modalities and
    concatenated (`combine: concat`), then `hidden_units`. The sum suits modalities that
    carry the same information (the gate picks the most reliable); concat suits
    complementary ones.

    The gate weights are not a training output (Keras's `fit` wants a target for every
    output); `tfmm.models.inspection_model(model)` returns them as `fusion_gate`, and
    every export serves them as an extra output.

    Args:
        features: dict of input name -> [batch, dim] tensor.
        config: `GatedFusionConfig`.
        presence: None or float32 [batch, modalities].
        outputs: unused.

    Example:

    >>> import keras
    >>> f = {"a": keras.Input((3,)), "b": keras.Input((5,))}
    >>> gated_fusion(f, GatedFusionConfig(dim=4, hidden_units=[2])).shape
    (None, 2)
    """
    projected = {
        name: keras.layers.Dense(config.dim, activation="tanh", name=f"fusion_project_{name}")(v)
        for name, v in normalized(features, config.normalize, "fusion_norm").items()
    }
    # Zeroed before the gate reads them, so a missing modality's content cannot move the
    # other modalities' weights either.
    projected = with_presence(projected, presence, "fusion_presence")
    vectors = list(projected.values())
    joined = (
        vectors[0]
        if len(vectors) == 1
        else keras.layers.Concatenate(name="fusion_gate_input")(vectors)
    )
    # Zero-initialised: the gate starts uniform and moves only as far as the loss asks.
    logits = keras.layers.Dense(
        len(vectors), kernel_initializer="zeros", name="fusion_gate_logits"
    )(joined)
    gate = GateWeights(name="fusion_gate")(logits, presence)
    if config.combine == "sum" or len(vectors) == 1:
        x = WeightedSum(name="fusion_weighted_sum")(vectors, gate)
    else:
        # Scaled by n, so that equal weights leave the projections as they are.
        weighted = [
            ApplyPresence(k, scale=len(vectors), name=f"fusion_gated_{name}")(v, gate)
            for k, (name, v) in enumerate(projected.items())
        ]
        x = keras.layers.Concatenate(name="fusion_concat")(weighted)
    return dense_stack(x, config)
