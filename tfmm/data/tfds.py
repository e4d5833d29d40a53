"""TFDS datasets as tfmm sources: `tfds:NAME/SPLIT` with a feature -> column mapping.

`data.tfds_features` maps TFDS feature names to the config's column names, for example
`{image: photo, label: label}`. Images and audio arrive decoded (TFDS decodes them); class
labels arrive as ids and are turned into their names, so the same label vocabulary and
`Preprocessor` apply.
"""

import tensorflow as tf

from tfmm.data.errors import DataError
from tfmm._extras import require


def parse_source(source):
    body = source[len("tfds:") :]
    if "/" not in body.rstrip("/").split(":")[-1] and body.count("/") == 0:
        raise DataError(f"TFDS source must be tfds:NAME/SPLIT. Received: {source!r}")
    name, split = body.rsplit("/", 1)
    return name, split


def read_tfds(config, source, input_context=None, with_labels=True, data_dir=None):
    """A dataset of raw examples (column -> tensor) from a TFDS split."""
    tfds = require("tensorflow_datasets", "a tfds: data source")

    name, split = parse_source(source)
    data_dir = _data_dir(config, data_dir)
    mapping = config.data.tfds_features
    if not mapping:
        raise DataError(
            f"{source}: set data.tfds_features, a mapping from the dataset's "
            f"features to the config's columns (e.g. {{image: image, label: "
            f"label}})."
        )
    read_config = tfds.ReadConfig(input_context=input_context, shuffle_seed=config.data.seed)
    ds, info = tfds.load(
        name,
        split=split,
        with_info=True,
        data_dir=data_dir,
        read_config=read_config,
        shuffle_files=False,
    )
    features = info.features
    missing = [f for f in mapping if f not in features]
    if missing:
        raise DataError(
            f"{source}: data.tfds_features names {missing} but the dataset's "
            f"features are {sorted(features.keys())}"
        )
    needed = set(c for c in _columns(config, with_labels))
    have = set(mapping.values())
    if needed - have:
        raise DataError(
            f"{source}: no TFDS feature is mapped to columns "
            f"{sorted(needed - have)}; data.tfds_features: {mapping}"
        )
    label_names = {}
    for feat, col in mapping.items():
        names = getattr(features[feat], "names", None)
        if names is not None:
            label_names[feat] = tf.constant(names)

    def to_raw(example):
        raw = {}
        for feat, col in mapping.items():
            value = example[feat]
            if feat in label_names:
                value = tf.gather(label_names[feat], value)
            raw[col] = value
        return raw

    return ds.map(to_raw, num_parallel_calls=tf.data.AUTOTUNE)


def tfds_label_names(config, source, data_dir=None):
    """The class names of each mapped ClassLabel feature, keyed by column."""
    tfds = require("tensorflow_datasets", "a tfds: data source")

    name, _ = parse_source(source)
    data_dir = _data_dir(config, data_dir)
    info = tfds.builder(name, data_dir=data_dir).info
    out = {}
    for feat, col in config.data.tfds_features.items():
        names = getattr(info.features[feat], "names", None)
        if names is not None:
            out[col] = list(names)
    return out


def _data_dir(config, data_dir):
    """`data_dir` if given, else `data.tfds_data_dir` (resolved), else None (TFDS's own)."""
    if data_dir is None and config.data.tfds_data_dir:
        return config.resolve_path(config.data.tfds_data_dir)
    return data_dir


def _columns(config, with_labels):
    cols = [i.column for i in config.inputs]
    if with_labels:
        cols += [o.column for o in config.outputs]
    return cols
