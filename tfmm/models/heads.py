"""Heads, and the loss and metrics that go with each head type."""

import keras

from tfmm.layers.heads import Head


def build_head(output_config, x, name=None):
    """Adds the head for `output_config` on top of the fused tensor `x`."""
    units = output_config.units
    if units is None:
        raise ValueError(f"output {output_config.name!r}: its labels are unknown. Set "
                         f"outputs[].labels in the config, or build the model through "
                         f"tfmm.data (which reads them from the training split).")
    return Head(output_config.type, units, labels=output_config.labels,
                name=name or f"head_{output_config.name}")(x)


def loss_for(output_config):
    """The Keras loss for one head. Multiclass targets are integer class ids."""
    return {
        "multiclass": keras.losses.SparseCategoricalCrossentropy(),
        "binary": keras.losses.BinaryCrossentropy(),
        "multilabel": keras.losses.BinaryCrossentropy(),
        "regression": keras.losses.MeanSquaredError(),
    }[output_config.type]


def metrics_for(output_config):
    """Keras metrics for one head (fresh objects each call)."""
    kind = output_config.type
    if kind == "multiclass":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if kind == "binary":
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    if kind == "multilabel":
        return [keras.metrics.BinaryAccuracy(name="accuracy"),
                keras.metrics.AUC(name="auc", multi_label=True)]
    return [keras.metrics.MeanAbsoluteError(name="mae")]
