"""Output types: what a `multiclass`, `binary`, `multilabel` or `regression` head means,
in one place.

Each type owns everything that differs between them: the head's width and activation,
how label strings are read from a manifest (and checked), the loss and metrics, the
in-graph target encoding, the serving outputs, the rows of `tfmm predict` and the
evaluation report. The rest of tfmm asks `output_type(output_config)` instead of
branching on `output_config.type`. (`tfmm.client` mirrors the serving outputs on its own:
it imports nothing from tfmm, so that it runs without TensorFlow.)

`OutputConfig`, the `outputs:` entries of a config, is defined here too. TensorFlow and
Keras are imported inside the methods that need them.

Example:

>>> o = OutputConfig("tags", type="multilabel", labels=["a", "b", "c"])
>>> kind = output_type(o)
>>> kind.units(o), kind.activation, kind.split(o, "a|c")
(3, 'sigmoid', ['a', 'c'])
>>> kind.prediction_row(o, [0.9, 0.2, 0.7])
{'tags': 'a|c'}
"""

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional, Union

import numpy as np

from tfmm.schema import ConfigError, positive


class OutputType:
    """The behaviour of one kind of output; subclasses are stateless singletons."""

    #: `OutputConfig.type`.
    name = ""
    #: The head's activation (a Keras activation name).
    activation = "linear"
    #: Whether targets are label strings (a label vocabulary) rather than numbers.
    has_labels = True
    #: Whether `training.monitor: auto` follows this head's validation accuracy.
    monitors_accuracy = False
    #: Whether evaluation draws its confusion matrix.
    plots_confusion = False
    #: The fewest labels a label vocabulary may hold, and the most (None: no limit).
    min_labels, max_labels = 2, None

    def units(self, o):
        """The head's width, or None while its labels are unknown."""
        return None if o.labels is None else len(o.labels)

    def num_labels(self, units):
        """How many label strings a head of `units` units has."""
        return units

    def split(self, o, value):
        """The label strings of one manifest cell (empty parts dropped)."""
        return [value] if value else []

    # -- Label vocabularies -------------------------------------------------------------

    def label_count_rule(self, labels):
        """ "exactly N" or "at least N" when `labels` has too few or too many labels for
        this output's vocabulary, else None."""
        if len(labels) < self.min_labels or (
            self.max_labels is not None and len(labels) > self.max_labels
        ):
            return (
                f"exactly {self.min_labels}"
                if self.min_labels == self.max_labels
                else f"at least {self.min_labels}"
            )
        return None

    def infer_labels(self, o, values):
        """The label vocabulary from the training split's cells (sorted, deterministic)."""
        found = sorted({p for v in values if v is not None for p in self.split(o, v)})
        rule = self.label_count_rule(found)
        if rule:
            raise ValueError(
                f"output {o.name!r}: a {self.name} output needs {rule} distinct "
                f"labels in the training data. Received: {found[:10]}"
            )
        return found

    def cell_problem(self, o, value, known):
        """Why one manifest cell is not a valid target (`known`: the label set, or None
        while unknown), or None."""
        unknown = [x for x in self.split(o, value) if known is not None and x not in known]
        if unknown:
            return (
                f"label {unknown[0]!r} was not seen in training; known labels: {sorted(known)[:20]}"
            )
        return None

    # -- Training -----------------------------------------------------------------------

    def loss(self, o, label_smoothing=0.0):
        raise NotImplementedError

    def metrics(self, o):
        """Fresh Keras metric objects for the head."""
        raise NotImplementedError

    def target(self, o, value, table):
        """The in-graph target of one example from its manifest cell (a string tensor);
        `table` maps label strings to ids (-1 if unknown)."""
        raise NotImplementedError

    # -- Serving, prediction, evaluation ------------------------------------------------

    def serving_outputs(self, o, p):
        """{serving output name: tensor} from the head's float32 output `p` [batch, units]."""
        raise NotImplementedError

    def prediction_row(self, o, p):
        """The columns of one `tfmm predict` row from the head's output `p` [units]."""
        raise NotImplementedError

    def report(self, o, p, t):
        """The evaluation report (a JSON-able dict) from outputs `p` and targets `t`."""
        raise NotImplementedError


def decision_threshold(o):
    """A binary output's decision threshold (0.5 until `threshold: auto` is resolved by
    training on the validation split)."""
    return o.threshold if isinstance(o.threshold, float) else 0.5


def choose_threshold(probabilities, targets):
    """The threshold on `probabilities` (of the positive label) with the best macro-F1 on
    `targets` (0/1): the midpoint between two neighbouring distinct probabilities, so it
    does not sit on a validation example.

    >>> round(choose_threshold(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 1, 1, 1])), 6)
    0.225
    """
    p = np.asarray(probabilities, np.float64).reshape(-1)
    t = np.asarray(targets).reshape(-1).astype(int)
    values = np.unique(p)
    candidates = [0.5] + list((values[:-1] + values[1:]) / 2)
    best, best_f1 = 0.5, -1.0
    for c in candidates:
        f1 = _macro_f1(t, (p > c).astype(int))
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(c), f1
    return best


def _macro_f1(t, d):
    scores = []
    for k in (0, 1):
        tp = float(((d == k) & (t == k)).sum())
        fp = float(((d == k) & (t != k)).sum())
        fn = float(((d != k) & (t == k)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


def balanced_class_weights(labels, counts):
    """scikit-learn's "balanced" weights, n / (classes * n_c), by label; a label without
    training rows gets 1.

    >>> balanced_class_weights(["no", "yes"], {"no": 20, "yes": 80})
    {'no': 2.5, 'yes': 0.625}
    """
    n = sum(counts.get(label, 0) for label in labels)
    return {
        label: (n / (len(labels) * counts[label]) if counts.get(label) else 1.0) for label in labels
    }


def _label_ids(o, value, table):
    import tensorflow as tf

    ids = table.lookup(value)
    tf.debugging.assert_non_negative(
        ids, message=f"output '{o.name}': label not in the label vocabulary"
    )
    return ids


class Multiclass(OutputType):
    """One label per example, softmax over the labels; targets are class ids."""

    name, activation, monitors_accuracy = "multiclass", "softmax", True
    plots_confusion = True

    def loss(self, o, label_smoothing=0.0):
        import keras

        from tfmm.losses import SparseCategoricalCrossentropyWithSmoothing

        if label_smoothing:
            return SparseCategoricalCrossentropyWithSmoothing(label_smoothing)
        return keras.losses.SparseCategoricalCrossentropy()

    def metrics(self, o):
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def target(self, o, value, table):
        return _label_ids(o, value, table)

    def serving_outputs(self, o, p):
        import tensorflow as tf

        return {
            f"{o.name}_probabilities": p,
            f"{o.name}_label": tf.gather(tf.constant(o.labels), tf.argmax(p, axis=-1)),
        }

    def prediction_row(self, o, p):
        p = np.asarray(p)
        return {
            o.name: o.labels[int(p.argmax())],
            **{f"{o.name}_p_{lab}": float(v) for lab, v in zip(o.labels, p)},
        }

    def report(self, o, p, t):
        from tfmm.calibration import calibration_report
        from tfmm.metrics import classification_report

        report = classification_report(t, p, o.labels)
        report["calibration"] = calibration_report(p, t, self.name, o.temperature)
        return report


class Binary(OutputType):
    """Two labels (negative first), one sigmoid: the probability of the second."""

    name, activation, monitors_accuracy = "binary", "sigmoid", True
    min_labels = max_labels = 2

    def units(self, o):
        return 1

    def num_labels(self, units):
        return 2

    def loss(self, o, label_smoothing=0.0):
        import keras

        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)

    def metrics(self, o):
        import keras

        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]

    def target(self, o, value, table):
        import tensorflow as tf

        return tf.cast(tf.reshape(_label_ids(o, value, table), [1]), tf.float32)

    def serving_outputs(self, o, p):
        import tensorflow as tf

        return {
            f"{o.name}_probability": p[:, 0],
            f"{o.name}_label": tf.gather(
                tf.constant(o.labels), tf.cast(p[:, 0] > decision_threshold(o), tf.int32)
            ),
        }

    def prediction_row(self, o, p):
        p = np.asarray(p)
        return {
            o.name: o.labels[int(p[0] > decision_threshold(o))],
            f"{o.name}_p_{o.labels[1]}": float(p[0]),
        }

    def report(self, o, p, t):
        from tfmm.metrics import classification_report

        t = np.asarray(t).reshape(-1).astype(int)
        p = np.asarray(p).reshape(-1, 1)
        threshold = decision_threshold(o)
        # The labels at the decision threshold: the report's accuracy and F1 are those
        # the exports serve (a threshold of 0.5 is argmax).
        decided = (p[:, 0] > threshold).astype(float)[:, None]
        report = classification_report(t, np.concatenate([1 - decided, decided], -1), o.labels)
        ranked = classification_report(t, np.concatenate([1 - p, p], -1), o.labels)
        for key in ("auroc", "log_loss"):
            if key in ranked:
                report[key] = ranked[key]
        if threshold != 0.5:
            report["threshold"] = threshold
        from tfmm.calibration import calibration_report

        report["calibration"] = calibration_report(p, t, self.name, o.temperature)
        return report


class Multilabel(OutputType):
    """Any number of labels per example (joined by `label_separator`), a sigmoid each."""

    name, activation = "multilabel", "sigmoid"

    def split(self, o, value):
        return [p for p in value.split(o.label_separator) if p] if value else []

    def loss(self, o, label_smoothing=0.0):
        import keras

        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)

    def metrics(self, o):
        import keras

        return [
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.AUC(name="auc", multi_label=True),
        ]

    def target(self, o, value, table):
        import tensorflow as tf

        parts = tf.strings.split(value, o.label_separator)
        parts = tf.boolean_mask(parts, tf.strings.length(parts) > 0)
        multi_hot = tf.reduce_max(
            tf.one_hot(_label_ids(o, parts, table), len(o.labels), dtype=tf.float32), axis=0
        )
        return tf.ensure_shape(multi_hot, [len(o.labels)])

    def serving_outputs(self, o, p):
        import tensorflow as tf

        labels = tf.constant(o.labels)
        chosen = tf.ragged.boolean_mask(tf.broadcast_to(labels, tf.shape(p)), p > 0.5)
        return {
            f"{o.name}_probabilities": p,
            f"{o.name}_labels": tf.strings.reduce_join(
                chosen, axis=-1, separator=o.label_separator
            ),
        }

    def prediction_row(self, o, p):
        return {
            o.name: o.label_separator.join(
                lab for lab, v in zip(o.labels, np.asarray(p)) if v > 0.5
            )
        }

    def report(self, o, p, t):
        from tfmm.calibration import calibration_report

        return {
            "accuracy": float(((p > 0.5) == (t > 0.5)).mean()),
            "n": len(t),
            "calibration": calibration_report(p, t, self.name, o.temperature),
        }


class Regression(OutputType):
    """`num_targets` numbers per example (joined by `label_separator`), linear."""

    name, activation, has_labels = "regression", "linear", False

    def units(self, o):
        return o.num_targets

    def cell_problem(self, o, value, known):
        parts = value.split(o.label_separator)
        try:
            [float(p) for p in parts]
        except ValueError:
            return f"target {value!r} is not a number"
        if len(parts) != o.num_targets:
            return f"expected {o.num_targets} targets, found {len(parts)}"
        return None

    def loss(self, o, label_smoothing=0.0):
        import keras

        return keras.losses.MeanSquaredError()

    def metrics(self, o):
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae")]

    def target(self, o, value, table):
        import tensorflow as tf

        parts = tf.strings.split(tf.strings.strip(value), o.label_separator)
        target = tf.strings.to_number(parts, tf.float32)
        return tf.ensure_shape(target, [o.num_targets]) if o.num_targets else target

    def serving_outputs(self, o, p):
        return {f"{o.name}_values": p}

    def prediction_row(self, o, p):
        return {o.name: o.label_separator.join(f"{v:.6g}" for v in np.asarray(p))}

    def report(self, o, p, t):
        return {
            "mae": float(np.abs(p - t).mean()),
            "rmse": float(np.sqrt(((p - t) ** 2).mean())),
            "n": len(t),
        }


OUTPUT_TYPES = {kind.name: kind for kind in (Multiclass(), Binary(), Multilabel(), Regression())}


def output_type(o):
    """The `OutputType` of an `OutputConfig` (or of a type name)."""
    name = o if isinstance(o, str) else o.type
    if name not in OUTPUT_TYPES:
        raise ValueError(
            f"unknown output type; allowed: {sorted(OUTPUT_TYPES)}. Received: type={name!r}"
        )
    return OUTPUT_TYPES[name]


@dataclass
class OutputConfig:
    """One head of the model.

    The one config class that is not frozen: `labels`, when the config leaves them out,
    are read from the training split by `tfmm.data.fit_preprocessing`, which fills them in
    place (so that the config a plain Keras script passes on holds them).

    Args:
        name: str. Output name (the key of `model.outputs` and of the losses).
        type: "multiclass" (softmax), "binary" (one sigmoid), "multilabel" (a sigmoid per
            label) or "regression" (linear).
        column: str. Manifest column of the target; defaults to `name`. Multilabel rows
            hold labels separated by `label_separator`.
        labels: list of label strings. If omitted, taken from the training split.
        num_targets: int. Width of a regression output.
        loss_weight: float. Weight of this head's loss.
        class_weight: "balanced" or {label: weight} (multiclass and binary): each
            example's loss is multiplied by its label's weight. "balanced" is
            n / (classes * n_label) on the training split (scikit-learn's), resolved
            into the map when the labels are read.
        threshold: float or "auto" (binary). The probability above which the second
            label is predicted (0.5). "auto": chosen after training on the validation
            split (the best macro-F1), stored in the run's config and the model's head,
            and used by `evaluate`, `predict` and every export.
        calibration: "auto" (the default), "temperature" or "none" (multiclass, binary,
            multilabel). "temperature": after training, one temperature T is fitted on
            the validation split (the lowest negative log-likelihood; `tfmm.calibration`)
            and the head's logits are divided by it, in the model and every export; the
            labels never change, the probabilities stop being over- or under-confident.
            "auto": "temperature" when the config has a validation split (measured: it
            lowered the test ECE on 17 of 18 runs, BENCHMARKS.md), else "none".
        temperature: float or None. The fitted temperature (written into the run's
            config by training; 1 or None: none).
    """

    name: str
    type: Literal["multiclass", "binary", "multilabel", "regression"] = "multiclass"
    column: Optional[str] = None
    labels: Optional[list[str]] = None
    num_targets: int = 1
    # Multilabel outputs: the separator between an example's labels in its cell ("cat|dog").
    label_separator: str = "|"
    loss_weight: float = 1.0
    class_weight: Optional[Union[Literal["balanced"], dict[str, float]]] = None
    threshold: Union[float, Literal["auto"]] = 0.5
    # "temperature": fit one temperature on the validation split after training (its logits
    # divided by it in the model and every export; labels unchanged, probabilities
    # calibrated); "none": the head as trained; "auto": temperature for a classification
    # output when the config has a validation split, else none.
    calibration: Literal["auto", "none", "temperature"] = "auto"
    # The temperature `calibration: temperature` fitted (written by training; null: none).
    temperature: Optional[float] = None

    def validate(self, path):
        if not self.name.isidentifier():
            raise ConfigError(
                f"{path}.name: must be an identifier (letters, digits, "
                f"underscores). Received: name={self.name!r}"
            )
        if self.labels is not None:
            if len(set(self.labels)) != len(self.labels):
                raise ConfigError(
                    f"{path}.labels: labels must be unique. Received: labels={self.labels}"
                )
            kind = output_type(self.type)
            if not kind.has_labels:
                raise ConfigError(
                    f"{path}.labels: a {self.type} output has no labels. "
                    f"Received: labels={self.labels}"
                )
            rule = kind.label_count_rule(self.labels)
            if rule:
                verb = "has" if rule.startswith("exactly") else "needs"
                raise ConfigError(
                    f"{path}.labels: a {self.type} output {verb} {rule} labels"
                    f"{' (negative first)' if self.type == 'binary' else ''}. "
                    f"Received: labels={self.labels}"
                )
        positive(self, path, "num_targets")
        if self.class_weight is not None and self.type not in ("multiclass", "binary"):
            raise ConfigError(
                f"{path}.class_weight: applies to multiclass and binary "
                f"outputs. Received: type={self.type!r}"
            )
        if isinstance(self.class_weight, dict):
            bad = {k: v for k, v in self.class_weight.items() if v < 0}
            if bad:
                raise ConfigError(f"{path}.class_weight: weights must be >= 0. Received: {bad}")
            if self.labels is not None:
                unknown = sorted(set(self.class_weight) - set(self.labels))
                if unknown:
                    raise ConfigError(
                        f"{path}.class_weight: unknown labels {unknown}; labels: {self.labels}"
                    )
        if self.calibration == "temperature" or self.temperature is not None:
            if self.type == "regression":
                key = "calibration" if self.calibration == "temperature" else "temperature"
                raise ConfigError(
                    f"{path}.{key}: applies to multiclass, binary and multilabel "
                    f"outputs. Received: type={self.type!r}"
                )
            if self.temperature is not None and not self.temperature > 0:
                raise ConfigError(
                    f"{path}.temperature: must be > 0. Received: temperature={self.temperature}"
                )
        if self.threshold != 0.5:
            if self.type != "binary":
                raise ConfigError(
                    f"{path}.threshold: applies to binary outputs. Received: type={self.type!r}"
                )
            if isinstance(self.threshold, float) and not 0.0 < self.threshold < 1.0:
                raise ConfigError(
                    f"{path}.threshold: must be in (0, 1) or 'auto'. "
                    f"Received: threshold={self.threshold}"
                )

    def weights_by_id(self):
        """The class weights in label order (1 for a label the map leaves out), or None."""
        if not isinstance(self.class_weight, dict) or self.labels is None:
            return None
        return [float(self.class_weight.get(label, 1.0)) for label in self.labels]

    def resolve(self):
        """A copy with `column` filled in (the name)."""
        return dataclasses.replace(self, column=self.column or self.name)

    @property
    def units(self) -> Optional[int]:
        """Width of the head, or None while labels are still unknown."""
        return output_type(self.type).units(self)
