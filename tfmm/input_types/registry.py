"""Input types: what a `text`, `image`, `audio` or `tabular` input means, one module each.

An input type declares its config fields, default encoders, the manifest columns it
reads, what it learns from the training split, how one row's cells become the model's
tensors (TensorFlow ops, for the tf.data pipeline), its serving signature's raw inputs
and their preprocessing, how `tfmm predict` reads a manifest for an export, and what the
TensorFlow-free client needs. The rest of tfmm asks `input_type(i)` instead of branching
on `i.type`; a new kind of input is one module here (registered by defining it in the
package) plus its client twin in `tfmm.client`.

Nothing here imports TensorFlow at module level: the config reads the registry.
"""

INPUT_TYPES = {}


class InputType:
    """The behaviour of one kind of input; subclasses are stateless singletons."""

    #: `InputConfig.type`.
    name = ""
    #: `InputConfig` fields only this type reads (others must keep their defaults).
    fields = ()
    #: The encoder of an input without an `encoder:` key, and under a token-level fusion.
    default_encoder = ""
    sequence_default_encoder = None
    #: Whether the cells are media file paths (read as bytes, checked as files).
    media = False

    def columns(self, i):
        """The manifest columns the input reads."""
        return [i.column]

    def resolve_column(self, i):
        """`column` once resolved: the input's name by default."""
        return i.column or i.name

    def validate(self, i, path):
        """Checks the type's own fields; raises `tfmm.schema.ConfigError`."""

    # -- `tfmm data check` ---------------------------------------------------------------

    def cell_problems(self, i, manifest):
        """The `Problem`s of the input's cells, or None for the built-in checks (text:
        empty cells; media: the files, decoded)."""
        return None

    def summary(self, i, manifest, config):
        """`tfmm data check`'s lines about the input's data, or None for the built-in ones
        (image sizes, clip durations)."""
        return None

    # -- What is learnt from the training split -----------------------------------------

    def fit(self, i, manifest):
        """The input's vocabulary or state from the training `Manifest`, or None."""
        return None

    # -- Preprocessing (TensorFlow) ------------------------------------------------------

    def preprocessor(self, i, vocabulary):
        """The object the input's preprocessing keeps (lookup tables, a vectorizer), or
        None. An export tracks it when it is a `tf.Module` or a Keras layer."""
        return None

    def features(self, i, pre, raw, text=True):
        """The model's tensors of one example from its cells (`raw`: column -> scalar
        string tensor)."""
        raise NotImplementedError

    def present(self, i, pre, raw):
        """An optional input's presence flag of one example (1.0 present, 0.0 missing)."""
        return present_flag(raw[i.column])

    # -- Serving -------------------------------------------------------------------------

    def raw_specs(self, i):
        """{name: TensorSpec} of the raw-input serving signature: one string per example."""
        import tensorflow as tf

        return {i.name: tf.TensorSpec([None], tf.string, name=i.name)}

    def served_features(self, i, pre, raw):
        """A served batch's raw inputs -> the model's tensors."""
        raise NotImplementedError

    def served_present(self, i, raw):
        return present_flag(raw[i.name])

    def served_checks(self, i, raw):
        """Assertions on a served batch (InvalidArgumentError naming the input)."""
        return []

    def raw_values(self, i, columns):
        """{raw input name: list} of a manifest's kept rows, as the serving signature and
        the clients take them (`tfmm predict` on an export)."""
        return {i.name: [_read(p) if p else b"" for p in columns[i.column]]}

    # -- The TensorFlow-free client ----------------------------------------------------------

    def client_spec(self, i, vocabulary):
        """The keys `tfmm.client` needs beyond name, type, column and optional."""
        return {}

    def meanings(self, i):
        """{model input name: what it holds, in words} (the ONNX file's metadata)."""
        return {}


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def register_input_type(cls):
    """Class decorator: registers an `InputType` subclass under its `name`."""
    if cls.name in INPUT_TYPES:
        raise ValueError(f"input type {cls.name!r} is already registered")
    INPUT_TYPES[cls.name] = cls()
    return cls


def input_type(i_or_name):
    """The `InputType` of an input config (or of a type name)."""
    name = i_or_name if isinstance(i_or_name, str) else i_or_name.type
    if name not in INPUT_TYPES:
        raise ValueError(f"unknown input type; allowed: {sorted(INPUT_TYPES)}. Received: {name!r}")
    return INPUT_TYPES[name]


def decoded_or_missing(i, value, decode, missing):
    """`decode()` of a media cell's bytes; for an optional input's empty bytes, `missing()`
    (the zeros the model reads as absent), chosen in the graph."""
    import tensorflow as tf

    if not i.optional or value.dtype != tf.string:
        return decode()
    return tf.cond(tf.strings.length(value) > 0, decode, missing)


def present_flag(value):
    """1.0 where an optional input's cell (text, path or bytes) is non-empty, else 0.0."""
    import tensorflow as tf

    return tf.cast(tf.strings.length(value) > 0, tf.float32)
