"""Tabular inputs: numeric and categorical columns -> the model's two tensors.

A `tabular` input (`{name: facts, type: tabular, numeric: [...], categorical: [...]}`) is
one modality: its numeric columns become `{name}_numeric` (float32 [batch, n], NaN where
a cell is empty) and its categorical columns `{name}_categorical` (int32 [batch, k]:
0 = missing, 1 = a category not seen in training, 2.. = the training split's categories).

What is learnt from the training split (and nothing else) is the input's *state*, a
JSON-able dict kept beside the text vocabularies (`vocabularies.json`) and inside the
encoder's config, so a saved model carries it:

    {"numeric": {column: {"edges": [quantiles...], "median": m, "missing": share}},
     "categorical": {column: [categories, most frequent first]}}

The numbers' normalisation happens inside the model (`tfmm.layers.tabular`), so every
export takes raw floats with NaN for missing; the categories are looked up here (and by
the TensorFlow-free client's numpy twin, `tfmm.client.category_ids`).

Example:

>>> state = fit_tabular_state(
...     {"numeric": ["n"], "categorical": ["c"], "numeric_bins": 2, "max_categories": 8,
...      "min_category_count": 1},
...     {"n": ["1", "2", "3", None, "5"], "c": ["a", "b", "a", None, "a"]})
>>> state["numeric"]["n"]["edges"], state["numeric"]["n"]["median"]
([1.0, 2.5, 5.0], 2.5)
>>> state["categorical"]["c"]
['a', 'b']
"""

import collections
import math

import numpy as np
import tensorflow as tf

MISSING_ID, OOV_ID = 0, 1
FIRST_CATEGORY_ID = 2
# Numeric cells read as missing (lower-cased, stripped); `tfmm.client` has the same list.
MISSING_NUMBERS = ("", "nan", "na", "n/a", "null", "none")


def parse_number(value):
    """A cell as float (NaN for empty); raises ValueError for text that is not a number."""
    if value is None:
        return math.nan
    if isinstance(value, (int, float, np.number)):
        return float(value)
    text = str(value).strip()
    if text.lower() in MISSING_NUMBERS:
        return math.nan
    number = float(text)  # ValueError for "12 cm", "1,234", ...
    if math.isinf(number):
        raise ValueError(f"infinite value {value!r}")
    return number


def _numbers(cells):
    """(every cell as float64, NaN for empty or not a number; the numbers found)."""
    values = []
    for v in cells:
        try:
            values.append(parse_number(v))
        except ValueError:
            values.append(math.nan)
    values = np.asarray(values, np.float64)
    return values, values[~np.isnan(values)]


def _settings(input_config):
    get = input_config.get if isinstance(input_config, dict) else lambda k: getattr(input_config, k)
    return (
        {k: get(k) or [] for k in ("numeric", "categorical")},
        get("numeric_bins"),
        get("max_categories"),
        get("min_category_count"),
    )


def fit_tabular_state(input_config, columns):
    """The state of a tabular input, fitted on the training split's `columns` (dict of
    column -> list of cells: str, numbers or None). Bad numeric cells are skipped here (the
    data check reports them)."""
    names, bins, max_categories, min_count = _settings(input_config)
    numeric = {}
    for col in names["numeric"]:
        values, found = _numbers(columns[col])
        if found.size == 0:
            edges, median = [0.0] * (bins + 1), 0.0
        else:
            # Quantile edges: a heavy tail (votes from 61 to 1.8 million) gets as many
            # bins as the bulk, and an outlier cannot stretch the scale of the others.
            edges = [float(e) for e in np.quantile(found, np.linspace(0.0, 1.0, bins + 1))]
            median = float(np.median(found))
        numeric[col] = {
            "edges": edges,
            "median": median,
            "missing": float(1.0 - found.size / max(values.size, 1)),
        }
    categorical = {}
    for col in names["categorical"]:
        counts = collections.Counter(_category(v) for v in columns[col])
        counts.pop("", None)
        # Most frequent first, ties by name; rare ones share the out-of-vocabulary id
        # (so it is trained, and an unseen category at prediction time means something).
        kept = sorted(
            (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)
        )[:max_categories]
        categorical[col] = kept
    return {"numeric": numeric, "categorical": categorical}


def _category(value):
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a pandas integer column with gaps reads as float
    return str(value).strip()


def numbers_from_strings(cells):
    """float32 tensor of string cells; the `MISSING_NUMBERS` cells ("", "NA", ...) are
    NaN. The cells were checked to be numbers (`tfmm.data.check`)."""
    cells = tf.strings.strip(cells)
    missing = tf.reduce_any(
        tf.equal(tf.expand_dims(tf.strings.lower(cells), -1), tf.constant(MISSING_NUMBERS)), axis=-1
    )
    parsed = tf.strings.to_number(tf.where(missing, tf.constant("0"), cells), tf.float32)
    return tf.where(missing, tf.constant(math.nan, tf.float32), parsed)


class TabularPreprocessor(tf.Module):
    """Raw cells of a tabular input -> `{name}_numeric` and `{name}_categorical`.

    Args:
        input_config: `tfmm.inputs.InputConfig` of a tabular input.
        state: dict. `fit_tabular_state`'s result.

    Example:

    >>> from tfmm.inputs import InputConfig
    >>> cfg = InputConfig("facts", "tabular", numeric=["n"], categorical=["c"])
    >>> p = TabularPreprocessor(cfg, {"numeric": {"n": {"edges": [0, 1], "median": 0.5}},
    ...                               "categorical": {"c": ["a", "b"]}})
    >>> x = p.from_cells({"n": tf.constant(""), "c": tf.constant("zzz")})
    >>> x["facts_numeric"].numpy().tolist(), x["facts_categorical"].numpy().tolist()
    ([nan], [1])
    """

    def __init__(self, input_config, state):
        # A tf.Module, so an export tracks its lookup tables.
        super().__init__(name=f"{input_config.name}_tabular")
        self.input_name = input_config.name
        self.numeric = list(input_config.numeric or [])
        self.categorical = list(input_config.categorical or [])
        if state is None:
            raise ValueError(
                f"tabular input {self.input_name!r}: needs its fitted state "
                f"(tfmm.data.fit_preprocessing builds it)"
            )
        self.tables = []
        for col in self.categorical:
            vocab = state["categorical"][col]
            keys = tf.constant([""] + list(vocab) if vocab else [""], tf.string)
            ids = tf.constant(
                [MISSING_ID] + list(range(FIRST_CATEGORY_ID, FIRST_CATEGORY_ID + len(vocab))),
                tf.int32,
            )
            self.tables.append(
                tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, ids), OOV_ID)
            )

    def category_ids(self, cells):
        """int32 ids of string cells [..., k] (one column per categorical column)."""
        cells = tf.strings.strip(cells)
        return tf.stack(
            [self.tables[j].lookup(cells[..., j]) for j in range(len(self.categorical))], axis=-1
        )

    def from_cells(self, raw):
        """One example's tensors from its cells (scalar strings keyed by column)."""
        x = {}
        if self.numeric:
            x[f"{self.input_name}_numeric"] = numbers_from_strings(
                tf.stack([raw[c] for c in self.numeric])
            )
        if self.categorical:
            x[f"{self.input_name}_categorical"] = self.category_ids(
                tf.stack([raw[c] for c in self.categorical])
            )
        return x

    def from_served(self, raw):
        """A batch's tensors from the serving inputs `{name}_numeric` (float32 [batch, n],
        NaN for missing) and `{name}_categorical` (string [batch, k], "" for missing)."""
        x = {}
        if self.numeric:
            x[f"{self.input_name}_numeric"] = tf.cast(raw[f"{self.input_name}_numeric"], tf.float32)
        if self.categorical:
            x[f"{self.input_name}_categorical"] = self.category_ids(
                raw[f"{self.input_name}_categorical"]
            )
        return x

    def present(self, raw_cells):
        """1.0 where any of the example's cells is non-empty (an optional tabular input)."""
        cells = tf.stack([tf.strings.strip(raw_cells[c]) for c in self.numeric + self.categorical])
        return tf.cast(tf.reduce_any(tf.strings.length(cells) > 0), tf.float32)


def served_present(input_config, raw):
    """The `{name}_present` flags of a served batch: any numeric cell not NaN or any
    category not empty."""
    name = input_config.name
    flags = []
    if input_config.numeric:
        x = tf.cast(raw[f"{name}_numeric"], tf.float32)
        flags.append(tf.reduce_any(tf.equal(x, x), axis=-1))  # NaN != NaN
    if input_config.categorical:
        flags.append(
            tf.reduce_any(
                tf.strings.length(tf.strings.strip(raw[f"{name}_categorical"])) > 0, axis=-1
            )
        )
    return tf.cast(tf.reduce_any(tf.stack(flags, axis=-1), axis=-1), tf.float32)


def raw_tabular(input_config, columns, rows=None):
    """The served form of a tabular input from manifest columns (lists of cells):
    {`{name}_numeric`: float32 [n, k] with NaN, `{name}_categorical`: object [n, k] of
    str}."""
    name = input_config.name
    out = {}
    n = len(columns[(input_config.numeric or input_config.categorical)[0]])
    if input_config.numeric:
        out[f"{name}_numeric"] = np.array(
            [[parse_number(columns[c][r]) for c in input_config.numeric] for r in range(n)],
            np.float32,
        ).reshape(n, len(input_config.numeric))
    if input_config.categorical:
        out[f"{name}_categorical"] = np.array(
            [[_category(columns[c][r]) for c in input_config.categorical] for r in range(n)], object
        ).reshape(n, len(input_config.categorical))
    return out


def tabular_problems(input_config, manifest):
    """`Problem`s of a tabular input's cells: a numeric cell that is not a number."""
    from tfmm.data.errors import Problem

    problems = []
    for col in input_config.numeric or []:
        for row, v in enumerate(manifest.columns[col], start=1):
            try:
                parse_number(v)
            except ValueError:
                problems.append(
                    Problem(
                        manifest.path,
                        row,
                        col,
                        f"not a number: {v!r} (numeric column of tabular "
                        f"input {input_config.name!r})",
                    )
                )
    return problems


def tabular_summary(input_config, manifest, state=None):
    """Lines for `tfmm data check`: per numeric column its missing share, range and
    quartiles; per categorical column its categories and, given the training split's
    `state`, how many rows hold a category unseen in training."""
    lines = []
    for col in input_config.numeric or []:
        values, found = _numbers(manifest.columns[col])
        missing = 100.0 * (1 - found.size / max(values.size, 1))
        if found.size:
            q1, q2, q3 = np.quantile(found, [0.25, 0.5, 0.75])
            lines.append(
                f"numeric column {col!r}: {missing:.0f}% missing, range "
                f"{found.min():g} to {found.max():g}, quartiles {q1:g} / {q2:g} / "
                f"{q3:g}"
            )
        else:
            lines.append(f"numeric column {col!r}: every cell is missing")
    for col in input_config.categorical or []:
        counts = collections.Counter(_category(v) for v in manifest.columns[col])
        missing = counts.pop("", 0)
        top = ", ".join(f"{c!r} {n}" for c, n in counts.most_common(3))
        line = (
            f"categorical column {col!r}: {len(counts)} categories ({top}"
            f"{', ...' if len(counts) > 3 else ''}), {missing} missing"
        )
        if state is not None:
            known = set(state["categorical"].get(col, []))
            unseen = {c: n for c, n in counts.items() if c not in known}
            line += (
                f"; {sum(unseen.values())} rows hold {len(unseen)} categories "
                f"not kept from the training split (read as out-of-vocabulary)"
            )
        lines.append(line)
    return lines
