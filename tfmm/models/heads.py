"""Heads, and the loss and metrics that go with each head type."""

from tfmm.layers.heads import Head
from tfmm.losses import ClassWeightedLoss
from tfmm.outputs import output_type


def build_head(output_config, x, name=None):
    """Adds the head for `output_config` on top of the fused tensor `x`."""
    units = output_config.units
    if units is None:
        raise ValueError(
            f"output {output_config.name!r}: its labels are unknown. Set "
            f"outputs[].labels in the config, or build the model through "
            f"tfmm.data (which reads them from the training split)."
        )
    return Head(
        output_config.type,
        units,
        labels=output_config.labels,
        name=name or f"head_{output_config.name}",
        **head_settings(output_config),
    )(x)


def head_settings(output_config):
    """The head's settings resolved after training and kept in the run's config: the
    decision threshold (binary) and the temperature (`calibration`)."""
    from tfmm.outputs import decision_threshold

    return {
        "threshold": decision_threshold(output_config),
        "temperature": output_config.temperature or 1.0,
    }


def loss_for(output_config, label_smoothing=0.0):
    """The Keras loss for one head (`tfmm.outputs`). Multiclass targets are integer class
    ids.

    With `label_smoothing` s > 0 a multiclass target becomes (1 - s) one-hot + s / classes
    and a binary or multilabel target moves s / 2 towards 0.5; regression ignores it.
    """
    loss = output_type(output_config).loss(output_config, label_smoothing)
    weights = output_config.weights_by_id()
    if weights is not None:
        return ClassWeightedLoss(loss, weights)
    return loss


def metrics_for(output_config):
    """Keras metrics for one head (fresh objects each call; `tfmm.outputs`)."""
    return output_type(output_config).metrics(output_config)
