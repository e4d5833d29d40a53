"""Run configuration: YAML -> validated dataclasses: loading, `--set` overrides and the
top-level schema.

A tfmm config names the model's inputs (one per modality column), how they are fused,
the outputs (heads), and how data, training and export run. It is validated once, when
loaded: an unknown key, a wrong type, an unknown encoder name or a missing required
field raises `ConfigError` naming the key path and listing what is allowed.

Each part's schema lives with the code that reads it: `tfmm.inputs.InputConfig`,
`tfmm.outputs.OutputConfig`, `tfmm.data.config.DataConfig`,
`tfmm.training.config.TrainingConfig`, and every encoder's and fusion strategy's config
class in its own module, registered with its builder (`register_encoder`,
`register_fusion`); the `encoder:` and `fusion:` keys take their choices from those
registries. The generic type checking is `tfmm.schema`.

Example:

```python
import tfmm
config = tfmm.config_from_dict({
    "inputs": [
        {"name": "text", "type": "text", "encoder": {"type": "textcnn"}},
        {"name": "image", "type": "image", "image_size": 32,
         "encoder": {"type": "resnet50"}},
    ],
    "outputs": [{"name": "label", "type": "multiclass", "labels": ["a", "b"]}],
})
assert config.inputs[1].encoder.type == "resnet50"
```
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import yaml

# Importing a component's module registers its config class with its builder (the
# packages import every module); the classes stay importable from here.
from tfmm.data.config import DataConfig
from tfmm.encoders.applications import EfficientNetConfig, MobileNetConfig, ResNet50Config
from tfmm.encoders.bert import BertConfig
from tfmm.encoders.cnn import CNNConfig
from tfmm.encoders.hub import HubConfig
from tfmm.encoders.keras_hub_image import KerasHubConfig
from tfmm.encoders.lstm_audio import LSTMAudioConfig
from tfmm.encoders.registry import EncoderSpec
from tfmm.encoders.textcnn import TextCNNConfig
from tfmm.fusion.concat import ConcatFusionConfig
from tfmm.fusion.cross_attention import CrossAttentionFusionConfig
from tfmm.fusion.gated import GatedFusionConfig
from tfmm.fusion.late import LateFusionConfig
from tfmm.fusion.registry import FUSION_CONFIGS, FusionBase
from tfmm.fusion.single_stream import SingleStreamFusionConfig
from tfmm.inputs import InputConfig
from tfmm.outputs import OutputConfig
from tfmm.schema import ConfigError, build, tagged_union, unique
from tfmm.tracking.config import TrackingConfig
from tfmm.training.config import TrainingConfig

__all__ = [
    "BertConfig",
    "CNNConfig",
    "ConcatFusionConfig",
    "Config",
    "ConfigError",
    "CrossAttentionFusionConfig",
    "DataConfig",
    "EfficientNetConfig",
    "EncoderSpec",
    "FusionBase",
    "GatedFusionConfig",
    "HubConfig",
    "InputConfig",
    "KerasHubConfig",
    "LSTMAudioConfig",
    "LateFusionConfig",
    "MobileNetConfig",
    "OutputConfig",
    "ResNet50Config",
    "SingleStreamFusionConfig",
    "TextCNNConfig",
    "TrackingConfig",
    "TrainingConfig",
    "apply_override",
    "config_from_dict",
    "load_config",
    "set_key",
]

# The `fusion:` key: its `type` picks the registered config class (for a type checker,
# any `FusionBase`); a mapping without `type` tunes the default, concat.
if TYPE_CHECKING:
    FusionConfig = FusionBase
else:
    FusionConfig = tagged_union("FusionConfig", FUSION_CONFIGS, default="concat")


@dataclass(frozen=True)
class Config:
    """A whole tfmm run: inputs, fusion, outputs, data, training."""

    # One entry per modality column (see inputs[] below).
    inputs: list[InputConfig]
    # One head per label column (see outputs[] below).
    outputs: list[OutputConfig]
    # The run's name: its folder under runs/ and its export's under savedmodels/.
    name: str = "tfmm"
    # How the inputs' vectors are fused (see fusion below).
    fusion: FusionConfig = field(default_factory=ConcatFusionConfig)
    # Where the examples are and how they are read (see data below).
    data: DataConfig = field(default_factory=DataConfig)
    # model.fit settings and the training recipes (see training below).
    training: TrainingConfig = field(default_factory=TrainingConfig)
    # Experiment tracking (MLflow; see tracking below).
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # Folder that relative paths in `data` are resolved against (set by load_config).
    base_dir: Optional[str] = field(default=None, metadata={"internal": True})

    def validate(self, path):
        if not self.inputs:
            raise ConfigError(f"{path}inputs: at least one input is required. Received: []")
        if not self.outputs:
            raise ConfigError(f"{path}outputs: at least one output is required. Received: []")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name) or ".." in self.name:
            raise ConfigError(
                f"{path}name: names the run's folder under runs/: letters, "
                f"digits, '.', '_' and '-', no '/' or '..'. Received: "
                f"name={self.name!r}"
            )
        unique([i.name for i in self.inputs], "inputs", "input name")
        unique([o.name for o in self.outputs], "outputs", "output name")
        readers = {}
        for i in self.inputs:
            for column in i.columns:
                other = readers.setdefault(column, i)
                if other is i or other.type == i.type:
                    continue
                raise ConfigError(
                    f"inputs: {other.name!r} ({other.type}) and {i.name!r} "
                    f"({i.type}) both read column {column!r}; one column holds "
                    f"one kind of value. Set `column` on one of them."
                )
        clash = {i.name for i in self.inputs} & {o.name for o in self.outputs}
        if clash:
            raise ConfigError(
                f"outputs: names {sorted(clash)} are also input names; "
                f"Keras inputs and outputs need distinct names."
            )
        from tfmm.fusion import needs_sequences

        if needs_sequences(self.fusion):
            for i in self.inputs:
                if i.encoder is not None and not i.encoder.has_tokens:
                    raise ConfigError(
                        f"inputs.{i.name}.encoder: {i.encoder.type} has no "
                        f"token sequence for the {self.fusion.type} fusion; "
                        f"use textcnn or bert there, or fusion concat, gated "
                        f"or late. Received: encoder.type={i.encoder.type!r}"
                    )
        self.fusion.validate_inputs(self.inputs, "fusion")

    def resolve(self):
        """A copy with the defaults that depend on several parts filled in: each input's
        default encoder where it depends on the fusion (text: `tfidf`, `textcnn` under a
        token-level fusion), the fusion's (`FusionBase.resolve_inputs`: the
        cross_attention fusion's `query` is the first text input, else the first input),
        and the training's optimizer and learning rate when they are "auto"
        (`tfmm.training.config.resolve_training`: from the encoders)."""
        from tfmm.fusion import needs_sequences

        sequences = needs_sequences(self.fusion)
        config = dataclasses.replace(
            self,
            inputs=[
                i
                if i.encoder is not None
                else dataclasses.replace(i, encoder=i.default_encoder(sequences))
                for i in self.inputs
            ],
        )
        from tfmm.training.config import resolve_training

        return dataclasses.replace(
            config,
            fusion=config.fusion.resolve_inputs(config.inputs),
            training=resolve_training(config.training, [i.encoder for i in config.inputs]),
        )

    def auxiliary_outputs(self) -> list[tuple[str, "OutputConfig", str]]:
        """[(model output name, output config, input name)] of the auxiliary per-modality
        heads (`fusion.auxiliary_loss_weight` > 0), in output then input order."""
        if not self.fusion.auxiliary_loss_weight:
            return []
        return [(f"{o.name}_aux_{i.name}", o, i.name) for o in self.outputs for i in self.inputs]

    def input(self, name: str) -> InputConfig:
        for i in self.inputs:
            if i.name == name:
                return i
        raise KeyError(f"no input named {name!r}; inputs: {[i.name for i in self.inputs]}")

    def resolve_path(self, p: Optional[str]) -> Optional[str]:
        if p is None or os.path.isabs(p) or p.startswith("tfds:") or self.base_dir is None:
            return p
        return os.path.join(self.base_dir, p)

    def to_dict(self, absolute_paths: bool = False) -> dict:
        """The config as a plain dict (what YAML holds).

        With `absolute_paths`, every relative path (data splits, `training.init_from`,
        encoder weights, presets, vocabularies and SavedModels that exist) is resolved
        against `base_dir` (the working directory when None), so the dict means the same
        wherever it is saved (a run directory's config.yaml)."""
        d = dataclasses.asdict(self)
        d.pop("base_dir")
        if absolute_paths:
            for key in ("train", "val", "test", "tfds_data_dir", "media_root"):
                d["data"][key] = _absolute(self.resolve_path(d["data"][key]))
            d["training"]["init_from"] = _absolute(self.resolve_path(d["training"]["init_from"]))
            for i in d["inputs"]:
                for key in ("weights", "preset", "vocabulary", "handle"):
                    value = i["encoder"].get(key)
                    if not isinstance(value, str) or not value or os.path.isabs(value):
                        continue
                    path = self.resolve_path(value)
                    if path is not None and os.path.exists(path):
                        i["encoder"][key] = _absolute(path)
        return d


def _absolute(p: Optional[str]) -> Optional[str]:
    if p is None or p.startswith("tfds:"):
        return p
    return os.path.abspath(p)


# ============================================================================
# Loading and validation.
# ============================================================================

# Discriminated unions: the `type` key picks the dataclass.


def load_config(path: str, overrides: Optional[list[str]] = None) -> Config:
    """Loads and validates a YAML config.

    Args:
        path: str. Path of the YAML file.
        overrides: list of `"dotted.key=value"` strings (values parsed as YAML) applied
            before validation, e.g. `["training.epochs=2", "inputs.text.encoder.filters=8"]`.
            List items may be addressed by index or by their `name`.

    Returns:
        A validated `Config` whose `base_dir` is the file's folder.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path!r}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path!r} is not valid YAML: {e}") from None
    if data is None:
        data = {}
    config = config_from_dict(data, overrides=overrides, source=path)
    return dataclasses.replace(config, base_dir=os.path.dirname(os.path.abspath(path)))


def config_from_dict(
    data: dict, overrides: Optional[list[str]] = None, source: str = "config"
) -> Config:
    """Validates a config given as a (YAML-like) dict. See `load_config`."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides or []:
        apply_override(data, item)
    try:
        return build(Config, data, "")
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def apply_override(data: dict, item: str) -> None:
    """Applies one `key.path=value` override to a raw config dict, in place."""
    if "=" not in item:
        raise ConfigError(f"--set expects key=value. Received: {item!r}")
    key, raw = item.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else ""
    if isinstance(value, str):
        # YAML 1.1 reads "1e-3" as a string; on the command line it means a number.
        try:
            value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf") else value
        except ValueError:
            pass
    set_key(data, key, value)


def set_key(data: dict, key: str, value) -> dict:
    """Sets `key.path` (list items by index or `name`) to `value` in a raw config dict, in
    place; returns the mapping that holds the last part (missing mappings are made)."""
    parts = key.strip().split(".")
    node = data
    where = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where.append(part)
        if isinstance(node, list):
            idx = _list_index(node, part, ".".join(where))
            if last:
                node[idx] = value
                return node
            node = node[idx]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {'.'.join(where[:-1])} is not a mapping or list.")
        if last:
            node[part] = value
            return node
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
    return node


def _list_index(node: list, part: str, where: str) -> int:
    if part.lstrip("-").isdigit():
        idx = int(part)
        if not -len(node) <= idx < len(node):
            raise ConfigError(f"--set {where}: index out of range for a list of {len(node)}.")
        return idx
    names = [x.get("name") for x in node if isinstance(x, dict)]
    if part in names:
        return names.index(part)
    raise ConfigError(f"--set {where}: no item named {part!r}; names: {names}.")
