"""Encoder registry: the config's `encoder.type` string -> a builder function.

A builder takes `(input_config, vocabulary=None, return_sequence=False)` and returns an
`Encoder` named `{input_name}_encoder`.
"""

ENCODERS = {}


def register_encoder(name):
    """Decorator that registers an encoder builder under `name`."""
    def decorator(fn):
        if name in ENCODERS:
            raise ValueError(f"encoder {name!r} is already registered")
        ENCODERS[name] = fn
        return fn
    return decorator


def build_encoder(input_config, vocabulary=None, return_sequence=False):
    """Builds the encoder that `input_config.encoder.type` names; with
    `return_sequence=True` it outputs {"sequence", "mask"} (see `Encoder`)."""
    kind = input_config.encoder.type
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder type {kind!r}; registered: {sorted(ENCODERS)}. "
                         f"Received: encoder.type={kind!r}")
    return ENCODERS[kind](input_config, vocabulary=vocabulary,
                          return_sequence=return_sequence)
