"""Fusion registry: the config's `fusion.type` -> a function that wires the fusion layers.

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

FUSIONS = {}
NEEDS_SEQUENCES = set()


def register_fusion(name, needs_sequences=False):
    """Decorator that registers a fusion function under `name`."""
    def decorator(fn):
        if name in FUSIONS:
            raise ValueError(f"fusion {name!r} is already registered")
        FUSIONS[name] = fn
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
