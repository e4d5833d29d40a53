"""ONNX export of the core tensor model (tf2onnx through `model.export`), checked in
onnxruntime, and the helper that makes its inputs from raw inputs."""

import contextlib
import dataclasses
import json
import logging
import os
import warnings

import numpy as np
import tensorflow as tf

from tfmm.client import onnx_session  # noqa: F401 (the export's check runs the client's)
from tfmm.data.preprocessor import Preprocessor
from tfmm.export.formats import ExportFormat, register_export_format
from tfmm.export.signatures import raw_features, raw_specs
from tfmm.input_types import input_type
from tfmm.fusion import INSPECTION_OUTPUTS
from tfmm._extras import require

# tf2onnx 1.17 writes opsets up to 18; 17 is what onnxruntime builds of the last two
# years all run.
OPSET = 17


def portable_copy(model, config, vocabularies):
    """The same model rebuilt for export with each encoder's `for_export()` config (LSTMs
    with `use_cudnn=False`: cuDNN kernels do not convert), weights copied; the model
    itself when no encoder changes."""
    from tfmm.models import build_model

    inputs = [dataclasses.replace(i, encoder=i.encoder.for_export()) for i in config.inputs]
    if inputs == config.inputs:
        return model
    config = dataclasses.replace(config, inputs=inputs)
    rebuilt = build_model(config, vocabularies)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def export_view(model, config, vocabularies):
    """What an export serves: the portable copy with its inspection outputs
    (`tfmm.models.inspection_model`) and without auxiliary heads."""
    from tfmm.models.builder import inspection_model

    full = inspection_model(portable_copy(model, config, vocabularies))
    aux = {name for name, _, _ in config.auxiliary_outputs()}
    if not aux:
        return full
    import keras

    outputs = {n: t for n, t in full.output.items() if n not in aux}
    return keras.Model(full.input, outputs, name=full.name)


def _fold_captured_constants(proto, concrete, input_names):
    """Constant tensors a layer captured from outside the traced function (keras-hub
    ViT's position ids) are left by tf2onnx as extra graph inputs that nothing feeds:
    they become initializers holding the captured values."""
    onnx = require("onnx", "export format onnx")

    captured = {inner.name: outer for outer, inner in concrete.graph.captures}
    for value in list(proto.graph.input):
        outer = captured.get(value.name)
        if value.name in input_names or outer is None or outer.dtype == tf.resource:
            continue
        proto.graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(outer), value.name))
        proto.graph.input.remove(value)


def _erfc(ctx, node, name, args):
    """TensorFlow's Erfc (exact GELU, as ViT's MLP uses it), which tf2onnx leaves as an
    op onnxruntime does not know, as 1 - Erf(x)."""
    import numpy as np

    utils = require("tf2onnx.utils", "export format onnx")

    node.type = "Erf"
    dtype = ctx.get_dtype(node.output[0])
    one = ctx.make_const(
        utils.make_name(f"{node.name}_one"), np.array(1, utils.map_onnx_to_numpy_type(dtype))
    )
    sub = ctx.insert_new_node_on_output(
        "Sub",
        node.output[0],
        name=utils.make_name(f"{node.name}_erfc"),
        inputs=[one.output[0], node.output[0]],
    )
    ctx.set_dtype(sub.output[0], dtype)
    ctx.copy_shape(node.output[0], sub.output[0])


# TensorFlow ops tf2onnx does not convert itself: op type -> (handler, extra args).
CUSTOM_OP_HANDLERS = {"Erfc": (_erfc, [])}


def write_onnx(model, config, path, vocabularies=None, opset=OPSET, served=None):
    """Converts `model` to ONNX at `path` with tf2onnx. The ONNX inputs keep the model's
    input names; its outputs are named after the config's outputs; the batch dimension
    of each is named `batch`. The file describes itself in `metadata_props`
    (`onnx_metadata`): the TensorFlow-free client's spec, labels, inputs, config and
    tfmm version. Returns `path`.

    (Keras's own `model.export(format="onnx")` passes a dict-input model its inputs as a
    list, so the function is given to tf2onnx directly, taking positional tensors.)
    """
    onnx = require("onnx", "export format onnx")
    tf2onnx = require("tf2onnx", "export format onnx")

    from tfmm._keras_compat import patch_tf2onnx

    names = [t.name for t in model.inputs]
    specs = [tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name) for t in model.inputs]

    served = list(served or served_outputs(model, config))

    def forward(*tensors):
        out = model(dict(zip(names, tensors)), training=False)
        return [tf.cast(out[name], tf.float32) for name in served]

    fn = tf.function(forward, input_signature=specs, autograph=False)
    with warnings.catch_warnings(), _without_meta_graph_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # np.object probe in the patch
        patch_tf2onnx()  # numpy 2 compatibility, as Keras does before converting
        proto, _ = tf2onnx.convert.from_function(
            fn, input_signature=specs, opset=opset, custom_op_handlers=CUSTOM_OP_HANDLERS
        )
    _fold_captured_constants(proto, fn.get_concrete_function(), names)
    rename = {out.name: name for out, name in zip(proto.graph.output, served)}
    # A served tensor may also feed other nodes (the gate feeds the weighted sum), so
    # every reference is renamed, not just the producing node's.
    for node in proto.graph.node:
        node.output[:] = [rename.get(n, n) for n in node.output]
        node.input[:] = [rename.get(n, n) for n in node.input]
    for out in proto.graph.output:
        out.name = rename[out.name]
    for value in (*proto.graph.input, *proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    meta = onnx_metadata(model, config, vocabularies or {})
    meta["tfmm.outputs"] = json.dumps(served)
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "tfmm"
    onnx.save(proto, path)
    return path


def client_spec(model, config, vocabularies):
    """What `tfmm.client.OnnxClient` needs to turn raw inputs into this model's inputs
    without TensorFlow (JSON-able dict)."""
    inputs = []
    for i in config.inputs:
        spec = {
            "name": i.name,
            "type": i.type,
            "column": i.column,
            "optional": bool(i.optional),
            **input_type(i).client_spec(i, vocabularies.get(i.name)),
        }
        inputs.append(spec)
    from tfmm.outputs import decision_threshold

    outputs = [
        {
            "name": o.name,
            "type": o.type,
            "labels": o.labels,
            "threshold": decision_threshold(o),
            "label_separator": o.label_separator,
        }
        for o in config.outputs
    ]
    return {
        "format": 1,
        "inputs": inputs,
        "outputs": outputs,
        "served": served_outputs(model, config),
    }


def input_meanings(model, config):
    """{ONNX input name: what it holds, in words}."""
    out = {}
    for i in config.inputs:
        if i.optional:
            out[f"{i.name}_present"] = f"float32 [batch]: 1 where {i.name} is given, 0 missing"
        out.update(input_type(i).meanings(i))
    names = [t.name for t in model.inputs]
    return {n: out.get(n, "model tensor") for n in names}


def onnx_metadata(model, config, vocabularies):
    """The ONNX file's `metadata_props` (string -> string; JSON values)."""
    import json

    import tfmm
    from tfmm.client import METADATA_KEY

    labels = {o.name: o.labels for o in config.outputs if o.labels}
    return {
        METADATA_KEY: json.dumps(client_spec(model, config, vocabularies)),
        "tfmm.version": tfmm.__version__,
        "tfmm.labels": json.dumps(labels),
        "tfmm.inputs": json.dumps(input_meanings(model, config)),
        "tfmm.outputs": json.dumps(served_outputs(model, config)),
        "tfmm.config": json.dumps(config.to_dict()),
    }


class _DropMetaGraphWarning(logging.Filter):
    # tf2onnx exports a v1 meta graph of the traced function; the graph's lookup-table
    # initializer collection (TextVectorization's, unused by the tensor model) has no
    # CollectionDef form, and TensorFlow says so, twice, "probably safe to ignore". The
    # ONNX file does not use that collection, and is checked in onnxruntime afterwards.
    def filter(self, record):
        return "Issue encountered when serializing" not in record.getMessage()


@contextlib.contextmanager
def _without_meta_graph_warnings():
    logger = logging.getLogger("tensorflow")
    f = _DropMetaGraphWarning()
    logger.addFilter(f)
    try:
        yield
    finally:
        logger.removeFilter(f)


def served_outputs(model, config):
    """Output names an export serves: the config's outputs, then inspection outputs
    (`fusion_gate`) when the model has them."""
    names = [o.name for o in config.outputs]
    return names + [n for n in INSPECTION_OUTPUTS if n in model.output]


def onnx_predict(session, config, inputs):
    """Runs an ONNX session on the core model's tensors (dict name -> array); returns
    {output name: probabilities/values} (and `fusion_gate` for a gated fusion)."""
    names = [i.name for i in session.get_inputs()]
    feed = {n: np.asarray(inputs[n]) for n in names}
    outputs = session.run(None, feed)
    by_name = dict(zip([o.name for o in session.get_outputs()], outputs))
    if set(by_name) >= {o.name for o in config.outputs}:
        served = {o.name for o in config.outputs} | set(INSPECTION_OUTPUTS)
        return {name: value for name, value in by_name.items() if name in served}
    # tf2onnx names dict outputs by position when it cannot keep the keys.
    return {o.name: out for o, out in zip(config.outputs, outputs)}


class OnnxInputs:
    """Raw inputs -> the ONNX model's inputs, with the vocabularies and decoding of the
    training run (the same TensorFlow preprocessing as training and the SavedModel).

    Example:

    ```python
    make = OnnxInputs(config, vocabularies)
    feed = make({"text": ["a red square"], "image": [open("a.jpg", "rb").read()],
                 "audio": [open("a.wav", "rb").read()]})
    probabilities = onnx_predict(onnx_session("model.onnx"), config, feed)
    ```
    """

    def __init__(self, config, vocabularies):
        self.config = config
        self.preprocessor = Preprocessor(config, vocabularies)

    def __call__(self, raw):
        specs = raw_specs(self.config)
        raw = {
            k: tf.constant(v, specs[k].dtype if k in specs else tf.string) for k, v in raw.items()
        }
        x = raw_features(self.config, self.preprocessor, raw)
        return {k: v.numpy() for k, v in x.items()}


def check_onnx_loads(path):
    """Loads the file in onnxruntime: an unconvertible op can still produce a `.onnx`
    that only fails here. Raises RuntimeError naming the file."""
    try:
        onnx_session(path)
    except Exception as e:  # onnxruntime raises its own exception types
        raise RuntimeError(
            f"ONNX export {os.path.basename(path)!r} does not load in onnxruntime: {e}"
        ) from e


def _refuse(model, config):
    strings = [t.name for t in model.inputs if t.dtype == "string"]
    if strings:
        return (
            f"input {strings[0]!r} takes strings (a hub text encoder); ONNX runtimes "
            f"have no TensorFlow string ops. Export --format savedmodel for this model."
        )
    for i in config.inputs:
        why = i.encoder.onnx_refusal(i.type)
        if why:
            return (
                f"input {i.name!r} uses the {i.encoder.type} encoder for {i.type} "
                f"({why}); it is not converted to ONNX. Export --format savedmodel "
                f"for this model."
            )
    return None


def _write(model, config, vocabularies, staging):
    write_onnx(model, config, os.path.join(staging, "model.onnx"), vocabularies)
    # `embed.onnx`: the same inputs, the vectors `tfmm embed` writes, named
    # `embedding_fused` and `embedding_INPUT` (an ONNX output may not share an input's name).
    vectors = _embedding_outputs(model, config)
    write_onnx(
        vectors,
        config,
        os.path.join(staging, "embed.onnx"),
        vocabularies,
        served=list(vectors.output),
    )
    return {"onnx": "model.onnx", "onnx_embed": "embed.onnx"}


def _embedding_outputs(model, config):
    import keras

    from tfmm.embeddings import embedding_model

    vectors = embedding_model(model, config)
    return keras.Model(
        vectors.input, {f"embedding_{k}": v for k, v in vectors.output.items()}, name="embed"
    )


def _check(paths, model, config, probe, expected):
    from tfmm.export.checks import compare, expected_probs

    check_onnx_loads(paths["onnx"])
    got = onnx_predict(
        onnx_session(paths["onnx"]), config, {k: v.numpy() for k, v in probe.items()}
    )
    want = {o.name: expected_probs(expected, o) for o in config.outputs}
    want.update({k: expected[k] for k in INSPECTION_OUTPUTS if k in expected})
    compare(want, got, "ONNX", atol=1e-4)
    check_onnx_loads(paths["onnx_embed"])
    session = onnx_session(paths["onnx_embed"])
    names = [i.name for i in session.get_inputs()]
    out = session.run(None, {n: probe[n].numpy() for n in names})
    got = dict(zip([o.name for o in session.get_outputs()], out))
    want = {k: np.asarray(v) for k, v in _embedding_outputs(model, config)(probe).items()}
    compare(want, got, "ONNX embed.onnx", atol=1e-4)


register_export_format(
    ExportFormat(
        title="ONNX (tf2onnx)",
        name="onnx",
        default=True,
        refuse=_refuse,
        write=_write,
        check=_check,
        needs=("tf2onnx", "onnx", "onnxruntime"),
        describe=lambda paths: f"ONNX -> {paths['onnx']} (and {paths['onnx_embed']})",
    )
)
