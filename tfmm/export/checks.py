"""What every export format's check shares: deterministic probe inputs, the Keras
model's expected probabilities, and the comparison that names the output that differs."""

import numpy as np


def expected_probs(named, output_config):
    """The probabilities/values tensor of one output among the named serving outputs."""
    for suffix in ("_probabilities", "_probability", "_values"):
        key = output_config.name + suffix
        if key in named:
            value = np.asarray(named[key])
            return value[:, None] if suffix == "_probability" else value
    raise KeyError(output_config.name)


def probe_inputs(model, batch=3):
    """Deterministic valid inputs for the export checks."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = {}
    for t in model.inputs:
        shape = (batch, *t.shape[1:])
        if t.name.endswith("_present"):
            # Present, missing, present: the checks cover a missing modality too.
            x[t.name] = np.array([1.0, 0.0, 1.0][:batch] + [1.0] * (batch - 3), "float32")
        elif t.name.endswith("_length"):
            samples = next(u.shape[1] for u in model.inputs if u.name == t.name[:-7])
            x[t.name] = np.full(shape, samples // 2, "int32")
        elif t.name.endswith("_segment_ids"):
            x[t.name] = np.zeros(shape, t.dtype)
        elif t.name.endswith("_padding_mask"):
            x[t.name] = np.ones(shape, t.dtype)
        elif str(t.dtype).startswith("int"):
            x[t.name] = rng.integers(0, 3, size=shape).astype(t.dtype)
        elif len(shape) == 4:
            x[t.name] = rng.uniform(0, 255, size=shape).astype("float32")
        elif t.dtype == "string":
            x[t.name] = np.array(["probe"] * batch)
        elif t.name.endswith("_numeric") and len(shape) == 2:
            # Raw tabular numbers: one missing (NaN) cell, and one far outside any range.
            x[t.name] = rng.normal(0, 3, size=shape).astype("float32")
            x[t.name][0, 0], x[t.name][-1, -1] = np.nan, 1e6
        else:
            x[t.name] = rng.uniform(-0.5, 0.5, size=shape).astype("float32")
    return {k: tf.constant(v) for k, v in x.items()}


def compare(expected, got, what, atol):
    for key, value in expected.items():
        if key not in got:
            raise RuntimeError(f"{what}: output {key!r} missing; it has {sorted(got)}")
        a, b = np.asarray(value), np.asarray(got[key])
        if a.dtype.kind in "SUO":
            if not (a == b).all():
                raise RuntimeError(f"{what}: output {key!r} differs from the Keras model")
            continue
        diff = float(np.abs(a - b).max()) if a.size else 0.0
        if diff > atol:
            raise RuntimeError(
                f"{what}: output {key!r} differs from the Keras model by "
                f"{diff:.3g} (allowed {atol})"
            )
