"""The two serving functions of an export: raw inputs, and the model's tensors.

Shared by the SavedModel export (as signatures) and by tests; everything in them is
TensorFlow ops (no `py_function`), so TF Serving can run them.
"""

import tensorflow as tf

from tfmm.data.preprocessor import Preprocessor, audio_tensors, image_tensor, present_flag
from tfmm.data.tabular import served_present
from tfmm.models.builder import INSPECTION_OUTPUTS
from tfmm.outputs import output_type


def tensor_specs(model):
    """{input name: TensorSpec} of the core model's inputs (batch dimension free)."""
    return {t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name)
            for t in model.inputs}


def raw_specs(config):
    """{input name: TensorSpec} of the raw-input signature: one string per example (the
    text itself, encoded JPEG/PNG/BMP/GIF bytes, or WAV bytes); a tabular input takes
    `{name}_numeric` (float32 [batch, numeric columns], NaN for missing) and
    `{name}_categorical` (string [batch, categorical columns], "" for missing), columns in
    config order."""
    specs = {}
    for i in config.inputs:
        if i.type != "tabular":
            specs[i.name] = tf.TensorSpec([None], tf.string, name=i.name)
            continue
        for part, columns, dtype in (("numeric", i.numeric, tf.float32),
                                     ("categorical", i.categorical, tf.string)):
            if columns:
                name = f"{i.name}_{part}"
                specs[name] = tf.TensorSpec([None, len(columns)], dtype, name=name)
    for i in config.inputs:
        if i.pair_column:
            specs[f"{i.name}_pair"] = tf.TensorSpec([None], tf.string, name=f"{i.name}_pair")
    return specs


def raw_features(config, preprocessor, raw):
    """Batched raw strings -> the model's input tensors, with tfmm's own preprocessing.

    The batch is checked as training checks examples: every input has the same number
    of examples (at least one), and a required text input is not empty; each violation is
    an InvalidArgumentError whose message starts with the input's name.
    """
    x = {}
    first = next(iter(raw))
    size = tf.shape(raw[first])[0]
    checks = [tf.debugging.assert_greater(size, 0, message=f"input `{first}`: empty batch "
                                                             f"(no examples)")]
    for name in raw:
        checks.append(tf.debugging.assert_equal(
            tf.shape(raw[name])[0], size, message=f"input `{name}`: a different number of "
                                                   f"examples than input `{first}`"))
    for i in config.inputs:
        if i.type == "text" and not i.optional:
            checks.append(tf.debugging.assert_equal(
                tf.reduce_all(tf.strings.length(tf.strings.strip(raw[i.name])) > 0), True,
                message=f"input `{i.name}`: empty text (a required text input; training "
                        f"refuses it too)"))
    with tf.control_dependencies(checks):
        raw = {k: tf.identity(v) for k, v in raw.items()}
    for i in config.inputs:
        if i.type == "tabular":
            if i.optional:
                x[f"{i.name}_present"] = served_present(i, raw)
            x.update(preprocessor.tabular[i.name].from_served(raw))
            continue
        values = raw[i.name]
        if i.optional:
            x[f"{i.name}_present"] = present_flag(values)
        if i.type == "text":
            x.update(preprocessor.text[i.name](values, raw.get(f"{i.name}_pair")))
        elif i.type == "image":
            x[i.name] = tf.map_fn(
                lambda b, i=i: image_tensor(i, b), values,
                fn_output_signature=tf.TensorSpec([*i.image_hw, 3], tf.float32))
        else:
            wave, length = tf.map_fn(
                lambda b, i=i: audio_tensors(i, b),
                values, fn_output_signature=(tf.TensorSpec([i.num_samples], tf.float32),
                                             tf.TensorSpec([], tf.int32)))
            x[i.name], x[f"{i.name}_length"] = wave, length
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
    out = {name: tf.cast(predictions[name], tf.float32) for name in INSPECTION_OUTPUTS
           if name in predictions}
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
