"""The generic half of config validation: YAML-like dicts -> typed dataclasses.

`build(cls, data, path)` checks every key of `data` against dataclass `cls`'s fields (an
unknown key is refused with a did-you-mean), every value against its type hint
(`int`, `float`, `str`, `bool`, `Literal`, `Optional`, `Union`, `list`, `dict`, nested
dataclasses and tagged unions), then calls the object's `validate(path)`. Errors are
`ConfigError`s that name the key path and what was received. A class's `resolve()`, when
it has one, then returns a copy with the defaults that depend on other fields filled in:
`validate` checks, `resolve` fills, and neither mutates.

A tagged union is a field whose `type` key picks the dataclass, from a registry filled by
the components themselves (`tfmm.encoders.register_encoder`,
`tfmm.fusion.register_fusion`): see `tagged_union`.

Nothing here imports TensorFlow or Keras.

Example:

>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     x: int
...     y: float = 0.0
>>> build(Point, {"x": 1, "y": 2}, "")
Point(x=1, y=2.0)
>>> build(Point, {"x": 1, "z": 2}, "")
Traceback (most recent call last):
...
tfmm.schema.ConfigError: z: unknown key. Allowed keys: ['x', 'y'].
"""

import dataclasses
import difflib
import typing
from typing import Any, Literal, Union


class ConfigError(ValueError):
    """A config is invalid. The message names the key path and what was received."""


# Tagged-union marker class -> {type string: dataclass}.
TAGGED = {}
# Tagged-union marker class -> the `type` a mapping without one takes.
TAGGED_DEFAULT = {}


def tagged_union(name, table, default=None):
    """A type-hint marker for a field whose `type` key picks the dataclass from `table`
    (a dict that registrations fill later). `encoder: textcnn` is short for
    `{type: textcnn}`; a mapping without `type` takes `default` (`fusion: {dropout: 0.1}`
    tunes the default fusion), or is an error naming the choices when there is none."""
    marker = type(
        name, (), {"__doc__": f"Any registered {name} (the `type` key picks the dataclass)."}
    )
    TAGGED[marker] = table
    if default is not None:
        TAGGED_DEFAULT[marker] = default
    return marker


def build(cls, data: Any, path: str):
    """Builds dataclass `cls` from `data`, checking keys and types along `path`."""
    where = path.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping. Received: {data!r}")
    hints = typing.get_type_hints(cls)
    # A field with metadata {"internal": True} is set by code, never by the config.
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}{key}: unknown key.{hint} Allowed keys: {sorted(fields)}.")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = coerce(hints[name], data[name], f"{path}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}{name}: required key is missing.")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate(path[:-1] if path.endswith(".") else path)
    # Validated as written; then a copy with the defaults that depend on other fields
    # filled in (config classes are frozen).
    return obj.resolve() if hasattr(obj, "resolve") else obj


def coerce(hint, value, path: str):
    """Checks `value` against type `hint`, converting where lossless (int -> float)."""
    if hint in TAGGED:
        table = TAGGED[hint]
        if isinstance(value, str):  # `encoder: textcnn` is short for `{type: textcnn}`.
            value = {"type": value}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping with a `type` key. Received: {value!r}")
        if "type" not in value and hint in TAGGED_DEFAULT:
            value = {"type": TAGGED_DEFAULT[hint], **value}
        kind = value.get("type")
        if "type" not in value:
            raise ConfigError(
                f"{path}.type: required key is missing; one of {sorted(table)}. Received: {value!r}"
            )
        if kind not in table:
            raise ConfigError(f"{path}.type: unknown type {kind!r}; allowed: {sorted(table)}.")
        return build(table[kind], value, path + ".")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(arg, value, path)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        names = [type_name(a) for a in args if a is not type(None)]
        raise ConfigError(f"{path}: expected {' or '.join(names)}. Received: {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: must be one of {list(args)}. Received: {value!r}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list. Received: {value!r}")
        return [coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping. Received: {value!r}")
        return {
            coerce(args[0], k, f"{path}"): coerce(args[1], v, f"{path}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path + ".")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false. Received: {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an int. Received: {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number. Received: {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string. Received: {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint!r} at {path}")  # a bug in this module


def type_name(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is list:
        return "a list"
    if origin is Literal:
        return f"one of {list(typing.get_args(hint))}"
    return {int: "an int", float: "a number", str: "a string", bool: "true/false"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def positive(obj, path, *names):
    for n in names:
        v = getattr(obj, n)
        if v is not None and v <= 0:
            raise ConfigError(f"{path}.{n}: must be positive. Received: {n}={v}".lstrip("."))


def unit_interval(obj, path, name):
    v = getattr(obj, name)
    if not 0.0 <= v < 1.0:
        raise ConfigError(f"{path}.{name}: must be in [0, 1). Received: {name}={v}")


def unique(names, path, what):
    seen = set()
    for n in names:
        if n in seen:
            raise ConfigError(f"{path}: duplicate {what} {n!r}. Received: {names}")
        seen.add(n)
