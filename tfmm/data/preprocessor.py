"""Raw columns (strings, encoded media bytes, label strings) -> model tensors and targets."""

import collections

import tensorflow as tf

from tfmm.data.manifest import Manifest
from tfmm.encoders.registry import input_name_of
from tfmm.input_types import input_type
from tfmm.outputs import balanced_class_weights, output_type


class Preprocessor:
    """Everything between a raw example and the model, as TensorFlow ops.

    Called on one unbatched raw example: a dict of column name -> scalar string tensor
    (text, encoded image bytes, WAV bytes, label strings). Returns `(x, y)` keyed by the
    model's input and output names. The same function serves the manifest, TFRecord and
    TFDS pipelines, and the raw-input serving signature.

    Args:
        config: `tfmm.Config` whose outputs have their labels.
        vocabularies: dict of text input name -> vocabulary (textcnn, bert).

    Example:

    >>> import tfmm
    >>> config = tfmm.config_from_dict({
    ...     "inputs": [{"name": "t", "type": "text", "column": "caption",
    ...                 "encoder": {"type": "textcnn", "sequence_length": 3,
    ...                             "kernel_sizes": [2]}}],
    ...     "outputs": [{"name": "y", "labels": ["a", "b"]}]})
    >>> x, y = Preprocessor(config, {"t": ["", "[UNK]", "hi"]})(
    ...     {"caption": tf.constant("hi there"), "y": tf.constant("b")})
    >>> x["t"].numpy().tolist(), int(y["y"])
    ([2, 1, 0], 1)
    """

    def __init__(self, config, vocabularies=None):
        vocabularies = vocabularies or {}
        self.config = config
        # Each input's own preprocessing object (`tfmm.input_types`), by input name.
        self.parts = {
            i.name: input_type(i).preprocessor(i, vocabularies.get(i.name)) for i in config.inputs
        }
        # The text inputs' (the pipeline tokenises per batch) and the objects an export
        # must track (lookup tables, vectorizers).
        self.text = {i.name: self.parts[i.name] for i in config.inputs if i.type == "text"}
        self.tracked = [p for p in self.parts.values() if p is not None]
        self.label_tables = {}
        for o in config.outputs:
            if not output_type(o).has_labels or o.labels is None:
                # Unknown labels are only an error when targets are asked for (features
                # alone, as pretraining reads them, need none).
                continue
            self.label_tables[o.name] = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(o.labels), tf.range(len(o.labels), dtype=tf.int64)
                ),
                -1,
            )

    def features(self, raw, text=True):
        """The model's input tensors of one raw example (without the text inputs when
        `text` is False: the pipeline tokenises those per batch)."""
        x = {}
        for i in self.config.inputs:
            kind, part = input_type(i), self.parts[i.name]
            if i.optional:
                x[f"{i.name}_present"] = kind.present(i, part, raw)
            x.update(kind.features(i, part, raw, text=text))
        return x

    def targets(self, raw):
        y = {}
        for o in self.config.outputs:
            kind = output_type(o)
            if kind.has_labels and o.name not in self.label_tables:
                raise ValueError(
                    f"output {o.name!r}: labels unknown; run "
                    f"tfmm.data.fit_preprocessing first or set outputs[].labels"
                )
            y[o.name] = kind.target(o, raw[o.column], self.label_tables.get(o.name))
        # The auxiliary per-modality heads learn the same target as their output.
        for aux_name, o, _ in self.config.auxiliary_outputs():
            y[aux_name] = y[o.name]
        return y

    def __call__(self, raw, with_labels=True):
        x = self.features(raw)
        return (x, self.targets(raw)) if with_labels else x


def infer_labels(output_config, values):
    """The label vocabulary of one output from training values (sorted, deterministic)."""
    return output_type(output_config).infer_labels(output_config, values)


def fit_preprocessing(config, manifest):
    """Reads what preprocessing learns from the training split.

    Fills in `config.outputs[].labels` where the config left them out (and
    `class_weight: balanced` with the training split's weights), and adapts the
    TextVectorization vocabulary of each textcnn input. BERT inputs get their WordPiece
    vocabulary from the vocabulary file or preset.

    Args:
        config: `tfmm.Config` (modified in place: labels).
        manifest: `tfmm.data.Manifest` of the training split (or a pandas DataFrame), or
            a `tfmm.data.ParquetStream`: fitted on its `sample()` (up to
            `data.fit_rows` rows), the labels from its whole label column.

    Returns:
        dict of input name -> what it learnt (text vocabularies, tabular states).
    """
    from tfmm.data.stream import ParquetStream

    if isinstance(manifest, ParquetStream):
        stream, manifest = manifest, manifest.sample()
        label_counts = stream.label_counts
    else:
        if not isinstance(manifest, Manifest):
            manifest = Manifest(manifest)
        manifest.require([o.column for o in config.outputs], what="label column")

        def label_counts(column):
            return collections.Counter(v for v in manifest.columns[column] if v is not None)

    for o in config.outputs:
        counts = None
        if output_type(o).has_labels and o.labels is None:
            counts = label_counts(o.column)
            o.labels = infer_labels(o, list(counts))
        if o.class_weight == "balanced":
            counts = counts or label_counts(o.column)
            o.class_weight = balanced_class_weights(o.labels, counts)
    return fit_text_vocabularies(config, manifest)


def fit_text_vocabularies(config, manifest):
    """What each input learns from the training split: the text vocabularies (textcnn:
    adapted on the manifest's text; tfidf: n-grams and their idf; bert: the WordPiece
    vocabulary) and each tabular input's state (numeric bin edges and medians, category
    lists; `tfmm.data.tabular`). Reads no label column."""
    manifest.require([c for i in config.inputs for c in i.columns], what="input column")
    vocabularies = {}
    for i in config.inputs:
        state = input_type(i).fit(i, manifest)
        if state is not None:
            vocabularies[i.name] = state
    return vocabularies


def vocabularies_from_model(model):
    """The text vocabularies a saved model carries (in its encoders' configs)."""
    out = {}
    for layer in model.layers:
        vocab = getattr(layer, "vocabulary", None)
        if vocab is not None and input_name_of(layer.name) is not None:
            out[input_name_of(layer.name)] = vocab
    return out
