"""Calibrated probabilities: temperature scaling, expected calibration error, Brier score.

Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017)
divides a classification head's logits by one scalar T > 0 fitted on the validation split
(the T that minimises the negative log-likelihood). Dividing every logit by the same T
keeps their order, so the predicted label (the argmax, or a sigmoid above 0.5) never
changes; only the confidence does. tfmm fits T after training when
`outputs[].calibration: temperature` and stores it in the head (`Head(temperature=T)`),
so `predict`, `evaluate`, every export and `tfmm.client` return calibrated probabilities.

Everything here works on the probabilities a head returns (numpy): the logits are
recovered from them (`log p` for softmax, `logit(p)` for sigmoids), which is exact up to
a constant per row that softmax ignores.

Example:

>>> import numpy as np
>>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
>>> y = np.array([0, 1, 1, 0])
>>> round(expected_calibration_error(p, y, "multiclass", bins=5), 4)
0.25
>>> round(brier_score(p, y, "multiclass"), 4)
0.45
>>> q = with_temperature(p, 2.0, "multiclass")
>>> bool((q.argmax(-1) == p.argmax(-1)).all()), round(float(q[0, 0]), 4)
(True, 0.75)
"""

import numpy as np

#: Tasks a temperature applies to.
TASKS = ("multiclass", "binary", "multilabel")
_TINY = 1e-12


def logits(probs, task):
    """Logits (up to a per-row constant for softmax) from a head's probabilities."""
    p = np.clip(np.asarray(probs, np.float64), _TINY, 1.0 - _TINY)
    if task == "multiclass":
        return np.log(p)
    return np.log(p) - np.log1p(-p)


def _probs(z, task):
    if task == "multiclass":
        z = z - z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-z))


def with_temperature(probs, temperature, task):
    """The probabilities the head would give with its logits divided by `temperature`
    (relative to the head that gave `probs`)."""
    return _probs(logits(probs, task) / float(temperature), task)


def negative_log_likelihood(probs, targets, task):
    """Mean NLL: of the true class (multiclass, `targets` class ids) or of each 0/1
    target (binary, multilabel)."""
    p = np.clip(np.asarray(probs, np.float64), _TINY, 1.0 - _TINY)
    if task == "multiclass":
        t = np.asarray(targets).astype(int).reshape(-1)
        return float(-np.mean(np.log(p[np.arange(len(t)), t])))
    t = np.asarray(targets, np.float64).reshape(p.shape)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log1p(-p)))


def fit_temperature(probs, targets, task, bounds=(0.05, 20.0)):
    """The temperature T (in `bounds`) that minimises the NLL of `with_temperature(probs,
    T)` against `targets`: Guo et al.'s temperature scaling, fitted on held-out rows.

    When every row's decision is right the NLL falls as T -> 0 without end (and when
    every one is wrong, as T grows): the rows cannot place T, and 1 is returned, the head
    as trained, not the bound.
    """
    from scipy.optimize import minimize_scalar

    if task not in TASKS:
        raise ValueError(f"temperature scaling applies to {TASKS}. Received: task={task!r}")
    _, correct = _confidence(probs, targets, task)
    if correct.all() or not correct.any():
        return 1.0
    z = logits(probs, task)

    def nll(log_t):
        return negative_log_likelihood(_probs(z / np.exp(log_t), task), targets, task)

    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    found = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(found.x))


def _confidence(probs, targets, task):
    """(confidence, correct) per decision: the top class of a softmax; each sigmoid's
    probability of the label it decides (binary, multilabel)."""
    p = np.asarray(probs, np.float64)
    if task == "multiclass":
        t = np.asarray(targets).astype(int).reshape(-1)
        return p.max(-1), (p.argmax(-1) == t).astype(float)
    p, t = p.reshape(-1), np.asarray(targets, np.float64).reshape(-1)
    decided = p > 0.5
    return np.where(decided, p, 1 - p), (decided == (t > 0.5)).astype(float)


def expected_calibration_error(probs, targets, task, bins=15):
    """ECE: over `bins` equal-width confidence bins, the mean |accuracy - confidence| of
    each bin weighted by its share of the decisions (Guo et al.; 15 bins by default)."""
    confidence, correct = _confidence(probs, targets, task)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def reliability(probs, targets, task, bins=15):
    """Per confidence bin (equal width): (mean confidence, accuracy, count); the points
    of a reliability diagram (empty bins left out)."""
    confidence, correct = _confidence(probs, targets, task)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        (float(confidence[which == b].mean()), float(correct[which == b].mean()), int(n))
        for b in range(bins)
        if (n := int((which == b).sum()))
    ]


def brier_score(probs, targets, task):
    """Mean squared difference between the probabilities and the one-hot (multiclass) or
    0/1 (binary, multilabel) targets, summed over a softmax's classes."""
    p = np.asarray(probs, np.float64)
    if task == "multiclass":
        t = np.asarray(targets).astype(int).reshape(-1)
        return float(np.mean(np.sum((p - np.eye(p.shape[-1])[t]) ** 2, -1)))
    t = np.asarray(targets, np.float64).reshape(p.shape)
    return float(np.mean((p - t) ** 2))


def calibration_report(probs, targets, task, temperature=None):
    """{"ece", "brier", "nll"} of `probs`; with a `temperature` other than 1 (the head's),
    also "uncalibrated": the same of the head without it (T = 1)."""
    out = {
        "ece": expected_calibration_error(probs, targets, task),
        "brier": brier_score(probs, targets, task),
        "nll": negative_log_likelihood(probs, targets, task),
    }
    if temperature not in (None, 1.0):
        raw = with_temperature(probs, 1.0 / float(temperature), task)
        out["temperature"] = float(temperature)
        out["uncalibrated"] = calibration_report(raw, targets, task)
    return out
