"""Late fusion: one head per modality, logits combined."""

from dataclasses import dataclass, field
from typing import Literal

import keras

from tfmm.fusion.registry import VectorFusionBase, dense_stack, normalized, register_fusion
from tfmm.layers.fusion import LateCombine


@dataclass(frozen=True)
class LateFusionConfig(VectorFusionBase):
    """One head per modality (its own `hidden_units`); the heads' logits are averaged
    over the modalities present (`combine: mean`) or weighted by learned softmax weights
    (`combine: learned`), then the output activation is applied."""

    type: Literal["late"] = "late"
    # "mean": the heads' logits averaged over the modalities present; "learned": weighted by learned
    # softmax weights.
    combine: Literal["mean", "learned"] = "mean"
    hidden_units: list[int] = field(default_factory=lambda: [64])


@register_fusion("late", config=LateFusionConfig)
def late_fusion(features, config, presence=None, outputs=()):
    """Each modality predicts every output on its own; the predictions are combined.

    Per modality: a LayerNorm (`normalize`), `hidden_units` Dense layers, then per output
    one Dense layer of the head's width (logits). Per output, `LateCombine` (named
    `fusion_late_{output}`) averages the modalities' logits over the modalities present
    (`combine: mean`) or weighs them by learned softmax weights (`combine: learned`). The
    heads then only apply their activation (softmax, sigmoid or none).

    Args:
        features: dict of input name -> [batch, dim] tensor.
        config: `LateFusionConfig`.
        presence: None or float32 [batch, modalities]. A missing modality's logits get
            weight 0.
        outputs: list of `OutputConfig` (with labels).

    Returns:
        dict of output name -> combined logits [batch, units].

    Example:

    >>> import keras
    >>> from tfmm.outputs import OutputConfig
    >>> f = {"a": keras.Input((3,)), "b": keras.Input((5,))}
    >>> out = late_fusion(f, LateFusionConfig(hidden_units=[4]),
    ...                   outputs=[OutputConfig("y", labels=["p", "q", "r"])])
    >>> out["y"].shape
    (None, 3)
    """
    hidden = {
        name: dense_stack(v, config, prefix=f"fusion_{name}")
        for name, v in normalized(features, config.normalize, "fusion_norm").items()
    }
    combined = {}
    for o in outputs:
        if o.units is None:
            raise ValueError(
                f"late fusion: output {o.name!r} has no labels yet; late fusion "
                f"builds one head per modality and needs its width."
            )
        logits = [
            keras.layers.Dense(o.units, name=f"fusion_{name}_logits_{o.name}")(h)
            for name, h in hidden.items()
        ]
        combined[o.name] = LateCombine(config.combine, len(logits), name=f"fusion_late_{o.name}")(
            logits, presence
        )
    return combined
