"""Fusion registry: the config's `fusion.type` -> its config class and the function that
wires the fusion layers.

Each fusion module defines its config dataclass (a `FusionBase`) next to its function
and registers both in one call (`@register_fusion("concat", config=ConcatFusionConfig)`);
`tfmm.config` reads `FUSION_CONFIGS` for the `fusion:` key's choices. Nothing here
imports Keras at module level.

A fusion function is called as `fn(features, config, presence, outputs)`:

- `features`: dict of input name -> the encoder's [batch, dim] vector, in config order;
  for a fusion registered with `needs_sequences=True`, a dict {"sequence", "mask"}
  (see `tfmm.encoders.base.Encoder`) instead;
- `config`: the fusion's config dataclass;
- `presence`: None, or a float32 [batch, modalities] tensor (columns in `features`
  order; 1 = present, 0 = missing or dropped). A fusion must make a missing modality's
  content irrelevant to its result;
- `outputs`: the config's `OutputConfig`s.

It adds its layers to the functional graph and returns either the fused [batch, dim]
tensor (the heads are added on top of it), or a dict of output name -> logits of the
head's width (late fusion; the heads then only apply their activation).

A fusion's config class may see the config's inputs (`validate_inputs`,
`resolve_inputs`), and its registration declares the layers whose per-example, per-modality output
([batch, modalities], config input order) the model exposes for inspection
(`inspection_outputs`: `tfmm.models.inspection_model`, every export, and
`tfmm predict`'s `{layer}_{input}` columns).
"""

from dataclasses import dataclass, field
from typing import Literal

from tfmm._registry import ComponentRegistry
from tfmm.schema import ConfigError, positive, unit_interval

_FUSIONS = ComponentRegistry("fusion")
FUSIONS = _FUSIONS.builders
FUSION_CONFIGS = _FUSIONS.configs
NEEDS_SEQUENCES = set()
#: Layer names of the per-modality outputs the registered fusions expose (filled by
#: `register_fusion(..., inspection_outputs=...)`).
INSPECTION_OUTPUTS = []


@dataclass(frozen=True)
class FusionBase:
    """Options every fusion strategy shares: its head, robustness and extra training
    signals. A strategy's config class redeclares a field to change its default.

    Args:
        hidden_units: list of ints. Dense layers on the fused vector (per modality, for
            late fusion).
        dropout: float. Dropout after each of them (and in attention blocks).
        activation: str. Their activation.
        modality_dropout: float. During training, each modality of each example is
            dropped (its presence set to 0) with this probability; an example never loses
            all of its modalities. Teaches the model to cope with a missing modality, and
            every branch to carry the label on its own (default 0.3; 0 turns it off).
        auxiliary_loss_weight: float. When > 0, every output also gets one auxiliary head
            per input, on that modality alone (model outputs `{output}_aux_{input}`),
            trained with this fraction of the output's loss weight. The fused heads stay
            the model's outputs for prediction and export.
        balance: "none" or "gradient_blending". Gradient-Blending (Wang, Tran and
            Feiszli, CVPR 2020): after every epoch each auxiliary head's weight is set
            from its overfitting-to-generalisation ratio on the validation split (how
            much its validation loss fell, over the square of how much its gap to the
            training loss grew), so a modality that starts to memorise pushes its
            encoder less. Needs `auxiliary_loss_weight` > 0 (the largest weight) and a
            validation split.
    """

    # 0.3: on hard data where each modality alone is right on only part of the rows,
    # the fused model without it fell below its own audio branch (0.784 against 0.849;
    # the text branch learns first, and the rest is memorised instead of read from the
    # audio); with it, 0.882 (BENCHMARKS.md, quality). A one-input model never drops.
    modality_dropout: float = 0.3
    auxiliary_loss_weight: float = 0.0
    balance: Literal["none", "gradient_blending"] = "none"
    hidden_units: list[int] = field(default_factory=lambda: [256])
    dropout: float = 0.2
    activation: str = "relu"

    def validate(self, path):
        if any(u <= 0 for u in self.hidden_units):
            raise ConfigError(
                f"{path}.hidden_units: must be positive ints. "
                f"Received: hidden_units={self.hidden_units}"
            )
        unit_interval(self, path, "dropout")
        unit_interval(self, path, "modality_dropout")
        if self.auxiliary_loss_weight < 0:
            raise ConfigError(
                f"{path}.auxiliary_loss_weight: must be >= 0. Received: "
                f"auxiliary_loss_weight={self.auxiliary_loss_weight}"
            )
        if self.balance == "gradient_blending" and not self.auxiliary_loss_weight:
            raise ConfigError(
                f"{path}.balance: gradient_blending weighs the auxiliary "
                f"per-modality heads; set {path}.auxiliary_loss_weight > 0 "
                f"(for example 0.5). Received: auxiliary_loss_weight=0"
            )

    def validate_inputs(self, inputs, path):
        """Checks what depends on the config's inputs (`InputConfig`s); raises
        `tfmm.schema.ConfigError` naming `path`."""

    def resolve_inputs(self, inputs):
        """A copy with the defaults that depend on the inputs filled in (itself here)."""
        return self


@dataclass(frozen=True)
class VectorFusionBase(FusionBase):
    """A strategy over the encoders' vectors.

    Args:
        normalize: bool. LayerNormalization on each modality vector first, so that a wide
            branch (ResNet's 2048 dims) cannot swamp a narrow one at the start of training.
    """

    normalize: bool = True


@dataclass(frozen=True)
class AttentionFusionBase(FusionBase):
    """A strategy that attends over the encoders' token sequences.

    Args:
        dim: int. Width every sequence is projected to.
        num_heads: int. Attention heads (`dim` must be divisible by it).
    """

    dim: int = 128
    num_heads: int = 4
    dropout: float = 0.1

    def validate(self, path):
        super().validate(path)
        positive(self, path, "dim", "num_heads")
        if self.dim % self.num_heads:
            raise ConfigError(
                f"{path}.dim: must be divisible by num_heads="
                f"{self.num_heads}. Received: dim={self.dim}"
            )


def register_fusion(name, config, needs_sequences=False, inspection_outputs=()):
    """Decorator that registers a fusion function under `name`, with its config
    dataclass (a `FusionBase` whose `type` field defaults to `name`); a fusion with
    `needs_sequences` reads the encoders' token sequences, and `inspection_outputs` names
    its layers whose [batch, modalities] outputs the model exposes."""

    def decorator(fn):
        _FUSIONS.register(name, config)(fn)
        if needs_sequences:
            NEEDS_SEQUENCES.add(name)
        INSPECTION_OUTPUTS.extend(n for n in inspection_outputs if n not in INSPECTION_OUTPUTS)
        return fn

    return decorator


def needs_sequences(fusion_config) -> bool:
    """Whether the fusion reads the encoders' token sequences (not their vectors)."""
    _FUSIONS.lookup(fusion_config.type)
    return fusion_config.type in NEEDS_SEQUENCES


def build_fusion(features, fusion_config, presence=None, outputs=()):
    return _FUSIONS.lookup(fusion_config.type)(features, fusion_config, presence, list(outputs))


def dense_stack(x, config, prefix="fusion"):
    """`config.hidden_units` Dense layers (with `config.dropout`) on `x`."""
    import keras

    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(units, activation=config.activation, name=f"{prefix}_dense_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"{prefix}_dropout_{i}")(x)
    return x


def normalized(tensors, enabled, prefix):
    """Each tensor of the dict through its own LayerNormalization (`{prefix}_{name}`).

    Encoders differ by orders of magnitude in width and scale (ResNet's 2048 ReLU
    averages against an LSTM's tanh states): without this the widest branch swamps the
    others at the start of training (measured on the demo data)."""
    if not enabled:
        return dict(tensors)
    import keras

    return {
        name: keras.layers.LayerNormalization(name=f"{prefix}_{name}")(t)
        for name, t in tensors.items()
    }


def with_presence(tensors, presence, prefix):
    """Each tensor of the dict with its modality zeroed (or its mask cleared) where
    missing; unchanged when there is no presence tensor."""
    if presence is None:
        return dict(tensors)
    from tfmm.layers.fusion import ApplyPresence

    return {
        name: ApplyPresence(k, name=f"{prefix}_{name}")(t, presence)
        for k, (name, t) in enumerate(tensors.items())
    }
