"""Fusion registry: the config's `fusion.type` -> a function that wires the fusion layers.

A fusion function takes `(features, fusion_config)`, where `features` maps each input
name to its encoder's [batch, dim] tensor (in config order), adds its layers to the
functional graph and returns the fused [batch, dim] tensor.
"""

FUSIONS = {}


def register_fusion(name):
    """Decorator that registers a fusion function under `name`."""
    def decorator(fn):
        if name in FUSIONS:
            raise ValueError(f"fusion {name!r} is already registered")
        FUSIONS[name] = fn
        return fn
    return decorator


def build_fusion(features, fusion_config):
    kind = fusion_config.type
    if kind not in FUSIONS:
        raise ValueError(f"unknown fusion type {kind!r}; registered: {sorted(FUSIONS)}. "
                         f"Received: fusion.type={kind!r}")
    return FUSIONS[kind](features, fusion_config)
