"""The two serving functions of an export: raw inputs, and the model's tensors.

Shared by the SavedModel export (as signatures) and by tests; everything in them is
TensorFlow ops (no `py_function`), so TF Serving can run them.
"""

import tensorflow as tf

from tfmm.data.preprocessor import Preprocessor
from tfmm.input_types import input_type
from tfmm.fusion import INSPECTION_OUTPUTS
from tfmm.outputs import output_type


def tensor_specs(model):
    """{input name: TensorSpec} of the core model's inputs (batch dimension free)."""
    return {t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name) for t in model.inputs}


def raw_specs(config):
    """{input name: TensorSpec} of the raw-input signature, each input type's own
    (`tfmm.input_types`): one string per example for text (the text itself), images
    (encoded JPEG/PNG/BMP/GIF bytes) and audio (WAV bytes); a tabular input takes
    `{name}_numeric` (float32 [batch, numeric columns], NaN for missing) and
    `{name}_categorical` (string [batch, categorical columns], "" for missing), columns in
    config order."""
    specs = {}
    for i in config.inputs:
        specs.update(input_type(i).raw_specs(i))
    return specs


def raw_features(config, preprocessor, raw):
    """Batched raw inputs -> the model's input tensors, with tfmm's own preprocessing.

    The batch is checked as training checks examples: every input has the same number
    of examples (at least one), and a required text input is not empty; each violation is
    an InvalidArgumentError whose message starts with the input's name.
    """
    x = {}
    first = next(iter(raw))
    size = tf.shape(raw[first])[0]
    checks = [
        tf.debugging.assert_greater(size, 0, message=f"input `{first}`: empty batch (no examples)")
    ]
    for name in raw:
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(raw[name])[0],
                size,
                message=f"input `{name}`: a different number of examples than input `{first}`",
            )
        )
    for i in config.inputs:
        checks.extend(input_type(i).served_checks(i, raw))
    with tf.control_dependencies(checks):
        raw = {k: tf.identity(v) for k, v in raw.items()}
    for i in config.inputs:
        kind = input_type(i)
        if i.optional:
            x[f"{i.name}_present"] = kind.served_present(i, raw)
        x.update(kind.served_features(i, preprocessor.parts[i.name], raw))
    return x


def named_outputs(config, predictions):
    """The model's outputs -> the documented serving outputs:

    - multiclass: `{name}_probabilities` float32 [batch, classes], `{name}_label` string;
    - binary: `{name}_probability` float32 [batch] (of the second label), `{name}_label`;
    - multilabel: `{name}_probabilities`, `{name}_labels` (the labels above 0.5, joined by
      the output's `label_separator`);
    - regression: `{name}_values` float32 [batch, targets];
    - gated fusion: `fusion_gate` float32 [batch, inputs], the modality weights.
    """
    out = {
        name: tf.cast(predictions[name], tf.float32)
        for name in INSPECTION_OUTPUTS
        if name in predictions
    }
    for o in config.outputs:
        out.update(output_type(o).serving_outputs(o, tf.cast(predictions[o.name], tf.float32)))
    return out


def make_serving_functions(model, config, vocabularies):
    """(serve_raw, serve_tensors): plain Python functions of one dict argument, to be
    wrapped by `tf.function` with `raw_specs(config)` / `tensor_specs(model)`. Also
    returns the preprocessing objects whose lookup tables must be tracked."""
    preprocessor = Preprocessor(config, vocabularies)

    def serve_raw(inputs):
        x = raw_features(config, preprocessor, inputs)
        return named_outputs(config, model(x, training=False))

    def serve_tensors(inputs):
        return named_outputs(config, model(inputs, training=False))

    return serve_raw, serve_tensors, preprocessor
