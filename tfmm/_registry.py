"""A registry of one kind of component (encoders, fusions): `type` string -> its builder
function and its config dataclass, filled by a decorator in the component's own module.
Nothing here imports Keras."""


class ComponentRegistry:
    """`builders` and `configs`: name -> the builder, name -> its config dataclass (whose
    `type` field defaults to the name).

    Example:

    >>> from dataclasses import dataclass
    >>> from typing import Literal
    >>> toys = ComponentRegistry("toy")
    >>> @dataclass(frozen=True)
    ... class ToyConfig:
    ...     type: Literal["tiny"] = "tiny"
    >>> @toys.register("tiny", ToyConfig)
    ... def build_tiny(config):
    ...     return "built"
    >>> toys.lookup("tiny")(ToyConfig())
    'built'
    >>> toys.lookup("huge")
    Traceback (most recent call last):
    ...
    ValueError: unknown toy type 'huge'; registered: ['tiny']. Received: toy.type='huge'
    """

    def __init__(self, kind):
        self.kind = kind
        self.builders = {}
        self.configs = {}

    def register(self, name, config):
        """Decorator that registers a builder under `name` with its config dataclass."""

        def decorator(fn):
            if name in self.builders:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            if config().type != name:
                raise ValueError(f"{self.kind} {name!r}: its config's type is {config().type!r}")
            self.builders[name] = fn
            self.configs[name] = config
            return fn

        return decorator

    def lookup(self, name):
        """The builder registered under `name`; a ValueError listing them otherwise."""
        if name not in self.builders:
            raise ValueError(
                f"unknown {self.kind} type {name!r}; registered: "
                f"{sorted(self.builders)}. Received: {self.kind}.type={name!r}"
            )
        return self.builders[name]
