"""Every workaround that reaches into Keras's private API, in one place.

Each was written against Keras 3.15 (`TESTED`). A private name that is gone in another
Keras version fails here with a message that says so, instead of an AttributeError deep
inside `fit` or the ONNX export.
"""

import contextlib
import importlib

import keras
import tensorflow as tf

TESTED = "3.15"


def _private(module, name):
    """`module` (a `keras.src` module) after checking it still has `name` (dotted for
    an attribute of a class)."""
    try:
        found = importlib.import_module(module)
        value = found
        for part in name.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError):
        raise RuntimeError(f"tfmm needs Keras's private {module}.{name}, which Keras "
                           f"{keras.__version__} does not have (tfmm's workarounds were "
                           f"written for Keras {TESTED}; see tfmm/_keras_compat.py)") from None
    return found


def check_private_api():
    """Raises if any private name a workaround uses is missing from the installed Keras."""
    for module, name in _USED:
        _private(module, name)


def patch_tf2onnx():
    """Keras's own numpy-2 compatibility patch for tf2onnx, applied before converting."""
    _private("keras.src.export.tf2onnx_lib", "patch_tf2onnx").patch_tf2onnx()


@contextlib.contextmanager
def keras_multiworker_fixes(strategy):
    """Works around a Keras 3 bug under MultiWorkerMirroredStrategy, for the duration of
    `fit`/`evaluate`.

    Keras 3.15 averages each step's logs across workers with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalar logs ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388). Scalars are
    averaged with `axis=None` instead; everything else goes to Keras unchanged. Nothing is
    patched under any other strategy.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    tf_trainer = _private("keras.src.backend.tensorflow.trainer", "reduce_per_replica")

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)

        def reduce(v):
            if not isinstance(v, (tf.Tensor, tf.distribute.DistributedValues)):
                return v
            return strategy.reduce("MEAN", v, axis=None if v.shape.rank == 0 else 0)
        return tf.nest.map_structure(reduce, values)

    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original


def build_from_spec(model, element_spec):
    """Builds the compiled metrics and losses from the dataset's spec, before `fit`.

    Under a strategy with several replicas, Keras 3.15 builds them at the start of every
    `fit` and `evaluate` by pulling a batch from the data and reducing it across the
    replicas. That fails in three ways: MultiWorkerMirroredStrategy cannot reduce dict
    inputs ("Attempt to convert a value ({'text': PerReplica...}) to a Tensor"), a partial
    first batch cannot be reduced at all ("Inputs to operation AddN ... must have the
    same size"), and the pull consumes a batch of the validation iterator. Only the
    shapes are needed, so they are taken from the spec and that step is skipped.
    """
    def local(spec):
        values = getattr(spec, "_value_specs", None)
        return values[0] if values else spec

    _private("keras.src.trainers.trainer", "Trainer._symbolic_build")
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=tf.nest.map_structure(local, element_spec))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


_USED = [("keras.src.backend.tensorflow.trainer", "reduce_per_replica"),
         ("keras.src.trainers.trainer", "Trainer._symbolic_build"),
         ("keras.src.export.tf2onnx_lib", "patch_tf2onnx")]
