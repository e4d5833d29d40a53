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
"""

from dataclasses import dataclass, field
from typing import Literal

from tfmm.schema import ConfigError, positive, unit_interval

FUSIONS = {}
FUSION_CONFIGS = {}
NEEDS_SEQUENCES = set()


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
            raise ConfigError(f"{path}.hidden_units: must be positive ints. "
                              f"Received: hidden_units={self.hidden_units}")
        unit_interval(self, path, "dropout")
        unit_interval(self, path, "modality_dropout")
        if self.auxiliary_loss_weight < 0:
            raise ConfigError(f"{path}.auxiliary_loss_weight: must be >= 0. Received: "
                              f"auxiliary_loss_weight={self.auxiliary_loss_weight}")
        if self.balance == "gradient_blending" and not self.auxiliary_loss_weight:
            raise ConfigError(f"{path}.balance: gradient_blending weighs the auxiliary "
                              f"per-modality heads; set {path}.auxiliary_loss_weight > 0 "
                              f"(for example 0.5). Received: auxiliary_loss_weight=0")

    def check_attention(self, path):
        """`dim` and `num_heads` of an attention-based strategy."""
        positive(self, path, "dim", "num_heads")
        if self.dim % self.num_heads:
            raise ConfigError(f"{path}.dim: must be divisible by num_heads="
                              f"{self.num_heads}. Received: dim={self.dim}")


def register_fusion(name, config, needs_sequences=False):
    """Decorator that registers a fusion function under `name`, with its config
    dataclass (a `FusionBase` whose `type` field defaults to `name`)."""
    def decorator(fn):
        if name in FUSIONS:
            raise ValueError(f"fusion {name!r} is already registered")
        if config().type != name:
            raise ValueError(f"fusion {name!r}: its config's type is {config().type!r}")
        FUSIONS[name] = fn
        FUSION_CONFIGS[name] = config
        if needs_sequences:
            NEEDS_SEQUENCES.add(name)
        return fn
    return decorator


def _lookup(kind):
    if kind not in FUSIONS:
        raise ValueError(f"unknown fusion type {kind!r}; registered: {sorted(FUSIONS)}. "
                         f"Received: fusion.type={kind!r}")
    return FUSIONS[kind]


def needs_sequences(fusion_config) -> bool:
    """Whether the fusion reads the encoders' token sequences (not their vectors)."""
    _lookup(fusion_config.type)
    return fusion_config.type in NEEDS_SEQUENCES


def build_fusion(features, fusion_config, presence=None, outputs=()):
    return _lookup(fusion_config.type)(features, fusion_config, presence, list(outputs))


def dense_stack(x, config, prefix="fusion"):
    """`config.hidden_units` Dense layers (with `config.dropout`) on `x`."""
    import keras

    for i, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(units, activation=config.activation,
                               name=f"{prefix}_dense_{i}")(x)
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

    return {name: keras.layers.LayerNormalization(name=f"{prefix}_{name}")(t)
            for name, t in tensors.items()}


def with_presence(tensors, presence, prefix):
    """Each tensor of the dict with its modality zeroed (or its mask cleared) where
    missing; unchanged when there is no presence tensor."""
    if presence is None:
        return dict(tensors)
    from tfmm.layers.fusion import ApplyPresence

    return {name: ApplyPresence(k, name=f"{prefix}_{name}")(t, presence)
            for k, (name, t) in enumerate(tensors.items())}
