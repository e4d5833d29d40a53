"""Gradient-Blending (Wang, Tran and Feiszli, "What Makes Training Multi-Modal
Classification Networks Hard?", CVPR 2020), online, one estimate per epoch.

Each head k (the fused head and every auxiliary per-modality head) is measured between
two epochs: its generalisation gain G_k (how much its validation loss fell) and the
change of its overfitting ΔO_k (how much the gap validation - training loss grew). The
paper's weight is w_k ∝ G_k / ΔO_k² (here G_k / (ΔO_k² + 1e-4), so that a head whose
gap did not move keeps a finite weight). tfmm keeps the fused head's loss weight and sets
each auxiliary head's gradient scale (`GradientScale` layer `blend_{aux}`) to
w_k / max_j w_j over the auxiliary heads, so its loss reaches its encoder with weight
`auxiliary_loss_weight` x that scale: a modality whose head now mostly memorises pushes
its encoder less, and one that still generalises keeps its full weight.
"""

import keras
import numpy as np

EPSILON = 1e-4


def blend_weights(previous, current, heads):
    """{head: weight in [0, 1]} from two epochs' logs (`{head}_loss`, `val_{head}_loss`).

    Example:

    >>> prev = {"a_loss": 2.0, "val_a_loss": 2.0, "b_loss": 2.0, "val_b_loss": 2.0}
    >>> now = {"a_loss": 1.5, "val_a_loss": 1.6,   # generalises: small gap
    ...        "b_loss": 0.5, "val_b_loss": 1.9}   # memorises: large gap
    >>> {k: round(v, 3) for k, v in blend_weights(prev, now, ["a", "b"]).items()}
    {'a': 1.0, 'b': 0.001}
    """
    raw = {}
    for k in heads:
        gain = max(previous[f"val_{k}_loss"] - current[f"val_{k}_loss"], 0.0)
        o_prev = previous[f"val_{k}_loss"] - previous[f"{k}_loss"]
        o_now = current[f"val_{k}_loss"] - current[f"{k}_loss"]
        raw[k] = gain / ((o_now - o_prev) ** 2 + EPSILON)
    top = max(raw.values())
    if top <= 0:
        return {k: 1.0 for k in heads}  # no head generalised better: keep them even
    return {k: v / top for k, v in raw.items()}


class GradientBlending(keras.callbacks.Callback):
    """Sets each auxiliary head's `blend_{aux}` gradient scale after every epoch from the
    logged training and validation losses (see the module docstring); logs the weights
    as `blend_{aux}` in the history."""

    def __init__(self, aux_names, log=None):
        super().__init__()
        self.aux_names = list(aux_names)
        self.log = log
        self._previous = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        keys = [f"{k}_loss" for k in self.aux_names] + [f"val_{k}_loss" for k in self.aux_names]
        if any(k not in logs or not np.isfinite(logs[k]) for k in keys):
            return  # no validation split: nothing to estimate from
        current = {k: float(logs[k]) for k in keys}
        if self._previous is not None:
            weights = blend_weights(self._previous, current, self.aux_names)
            for name, w in weights.items():
                self.model.get_layer(f"blend_{name}").scale.assign(w)
        for name in self.aux_names:
            logs[f"blend_{name}"] = float(self.model.get_layer(f"blend_{name}").scale.numpy())
        self._previous = current
