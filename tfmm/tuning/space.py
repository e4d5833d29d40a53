"""A search space: config keys and the values a search may give them, read from YAML.

```yaml
training.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}
fusion.type: {choice: [concat, gated]}
fusion.dropout: {uniform: [0.0, 0.5]}
inputs.image.encoder.filters: {choice: [[16, 32, 64], [32, 64, 128]]}
training.epochs: {int: [8, 24]}
```

A key is any config key as `--set` writes it (list items by index or `name`). A value is
one of `choice` (a list of values), `uniform` / `log_uniform` (float bounds) or `int`
(int bounds, both included). The space is checked against the base config before any
trial runs: an unknown key, a bad range or a value the config refuses is a `SpaceError`
naming the key. Setting a component's `type` (`fusion.type`, `inputs.NAME.encoder.type`)
keeps only the base component's keys the chosen type has.

Example:

>>> base = {"inputs": [{"name": "text", "type": "text"}],
...         "outputs": [{"name": "label", "labels": ["a", "b"]}]}
>>> space = Space.from_dict({"training.learning_rate": {"log_uniform": [1e-4, 1e-2]},
...                          "fusion.type": {"choice": ["concat", "gated"]}}, base)
>>> [d.key for d in space.dimensions]
['fusion.type', 'training.learning_rate']
>>> config = space.config({"fusion.type": "gated", "training.learning_rate": 0.001})
>>> config.fusion.type, config.training.learning_rate
('gated', 0.001)
>>> Space.from_dict({"training.epoks": {"int": [1, 3]}}, base)
Traceback (most recent call last):
...
tfmm.tuning.space.SpaceError: space: training.epoks: unknown key. Did you mean 'epochs'?...
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Optional

import yaml

from tfmm.config import Config, ConfigError, config_from_dict, set_key

KINDS = ("choice", "uniform", "log_uniform", "int")


class SpaceError(ConfigError):
    """A search space is invalid; the message names the key."""


@dataclass(frozen=True)
class Dimension:
    """One searched key: `kind` and its `values` (choice) or `low` / `high` bounds."""

    key: str
    kind: str
    values: Optional[tuple] = None
    low: Optional[float] = None
    high: Optional[float] = None

    def candidates(self) -> list:
        """The values checked against the config: every choice, or both bounds."""
        return list(self.values) if self.kind == "choice" else [self.low, self.high]

    def add_to(self, hp):
        """Declares the dimension on a `keras_tuner.HyperParameters`."""
        if self.kind == "choice":
            return hp.Choice(self.key, [encode(v) for v in self.values])
        if self.kind == "int":
            return hp.Int(self.key, int(self.low), int(self.high))
        return hp.Float(
            self.key,
            float(self.low),
            float(self.high),
            sampling="log" if self.kind == "log_uniform" else "linear",
        )

    def decode(self, value):
        return decode(value) if self.kind == "choice" else value


def encode(value) -> Any:
    """A choice value as KerasTuner holds it: scalars as they are, lists and mappings as
    JSON text (KerasTuner's `Choice` takes only scalars)."""
    return value if isinstance(value, (str, int, float, bool)) else "json:" + json.dumps(value)


def decode(value) -> Any:
    return json.loads(value[5:]) if isinstance(value, str) and value.startswith("json:") else value


def _dimension(key, spec) -> Dimension:
    where = f"space: {key}"
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise SpaceError(
            f"{where}: expected one of {{choice: [...]}}, {{uniform: [low, "
            f"high]}}, {{log_uniform: [low, high]}}, {{int: [low, high]}}. "
            f"Received: {spec!r}"
        )
    kind, arg = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise SpaceError(f"{where}: choice needs a non-empty list. Received: {arg!r}")
        if len({json.dumps(v, sort_keys=True) for v in arg}) != len(arg):
            raise SpaceError(f"{where}: choice lists a value twice. Received: {arg!r}")
        return Dimension(key, kind, values=tuple(arg))
    if not (
        isinstance(arg, list)
        and len(arg) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in arg)
    ):
        raise SpaceError(f"{where}: {kind} needs [low, high] numbers. Received: {arg!r}")
    low, high = arg
    if not low < high:
        raise SpaceError(f"{where}: {kind} needs low < high. Received: [{low}, {high}]")
    if kind == "log_uniform" and low <= 0:
        raise SpaceError(f"{where}: log_uniform needs low > 0. Received: [{low}, {high}]")
    if kind == "int" and not all(isinstance(v, int) or float(v).is_integer() for v in arg):
        raise SpaceError(f"{where}: int needs whole-number bounds. Received: {arg!r}")
    if not all(math.isfinite(v) for v in arg):
        raise SpaceError(f"{where}: bounds must be finite. Received: {arg!r}")
    return Dimension(key, kind, low=low, high=high)


def _component_fields(key: str, kind: str) -> Optional[set]:
    """The fields of the component a `...type` key picks, or None for other keys."""
    if key == "fusion.type":
        from tfmm.fusion.registry import FUSION_CONFIGS

        table = FUSION_CONFIGS
    elif key.endswith(".encoder.type"):
        from tfmm.encoders import ENCODER_CONFIGS

        table = ENCODER_CONFIGS
    else:
        return None
    cls = table.get(kind)
    return None if cls is None else {f.name for f in dataclasses.fields(cls)}


class Space:
    """The dimensions of a search over a base config (a YAML-like dict)."""

    def __init__(self, dimensions: list[Dimension], base: dict, base_dir: Optional[str] = None):
        # `...type` keys first, so that a component's other keys apply to the chosen type.
        self.dimensions = sorted(dimensions, key=lambda d: (not d.key.endswith("type"), d.key))
        self.base = _normalized(base)
        self.base_dir = base_dir
        self._check()

    @classmethod
    def from_dict(cls, data, base: dict, base_dir: Optional[str] = None) -> "Space":
        if not isinstance(data, dict) or not data:
            raise SpaceError(
                f"space: expected a mapping of config keys to "
                f"{{choice|uniform|log_uniform|int: ...}}. Received: {data!r}"
            )
        return cls([_dimension(str(k), v) for k, v in data.items()], base, base_dir)

    @classmethod
    def load(cls, path: str, base: dict, base_dir: Optional[str] = None) -> "Space":
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except FileNotFoundError:
            raise SpaceError(f"space file not found: {path!r}") from None
        except yaml.YAMLError as e:
            raise SpaceError(f"space file {path!r} is not valid YAML: {e}") from None
        return cls.from_dict(data, base, base_dir)

    def data(self, values: dict) -> dict:
        """The base config dict with `values` ({key: value}, decoded) applied."""
        data = copy.deepcopy(self.base)
        for d in self.dimensions:
            if d.key not in values:
                continue
            value = d.decode(values[d.key])
            try:
                node = set_key(data, d.key, value)
            except ConfigError as e:
                raise SpaceError(f"space: {e}".replace("--set ", "")) from None
            fields = _component_fields(d.key, value)
            if fields is not None:
                for k in [k for k in node if k not in fields]:
                    del node[k]
        _default_encoder_types(data)
        return data

    def config(self, values: dict) -> Config:
        """The validated config of one point of the space."""
        config = config_from_dict(self.data(values), source="config")
        return dataclasses.replace(config, base_dir=self.base_dir)

    def _check(self):
        for d in self.dimensions:
            for value in d.candidates():
                try:
                    self.config({d.key: encode(value) if d.kind == "choice" else value})
                except SpaceError:
                    raise
                except ConfigError as e:
                    message = str(e)
                    for prefix in ("config: ", "space: "):
                        message = message.removeprefix(prefix)
                    if not message.startswith(d.key):
                        message = f"{d.key}: {value!r} gives an invalid config: {message}"
                    raise SpaceError(f"space: {message}") from None


def _default_encoder_types(data: dict):
    """An input whose searched encoder keys made an `encoder:` mapping without a `type`
    gets the type it would have had by default (which may depend on the fusion)."""
    inputs = data.get("inputs") or []
    untyped = [
        k
        for k, i in enumerate(inputs)
        if isinstance(i, dict) and isinstance(i.get("encoder"), dict) and "type" not in i["encoder"]
    ]
    if not untyped:
        return
    plain = copy.deepcopy(data)
    for k in untyped:
        del plain["inputs"][k]["encoder"]
    resolved = config_from_dict(plain)
    for k in untyped:
        inputs[k]["encoder"]["type"] = resolved.inputs[k].encoder.type


def _normalized(base: dict) -> dict:
    """A copy of a config dict with shorthand components as mappings (`encoder: cnn` ->
    `{type: cnn}`), so that their keys can be searched."""
    data = copy.deepcopy(base)
    for i in data.get("inputs") or []:
        if isinstance(i, dict) and isinstance(i.get("encoder"), str):
            i["encoder"] = {"type": i["encoder"]}
    if isinstance(data.get("fusion"), str):
        data["fusion"] = {"type": data["fusion"]}
    return data
