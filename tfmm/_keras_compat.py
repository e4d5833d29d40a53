"""Every workaround that reaches into Keras's or TensorFlow's private API, in one place.

Each was written against Keras 3.15 and TensorFlow 2.21 (`TESTED`, `TESTED_TF`) and is
listed in `PRIVATE_NAMES` with why it is used; `check_private_api()` (run by the tests)
fails loudly, naming it, when an installed version lacks one, instead of an
AttributeError deep inside `fit`, the ONNX export or the tf.data service. No other tfmm
module touches a private Keras or TensorFlow name.
"""

import contextlib
import importlib

import keras
import tensorflow as tf

TESTED = "3.15"
TESTED_TF = "2.21"


def _private(module, name):
    """`module` (a `keras.src` or `tensorflow.python` module) after checking it still has
    `name` (dotted for an attribute of a class); the error names the library, its
    installed version and the one the workaround was written for."""
    try:
        found = importlib.import_module(module)
        value = found
        for part in name.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError):
        library, version, tested = (
            ("TensorFlow", tf.__version__, TESTED_TF)
            if module.startswith("tensorflow")
            else ("Keras", keras.__version__, TESTED)
        )
        raise RuntimeError(
            f"tfmm needs {library}'s private {module}.{name}, which "
            f"{library} {version} does not have (tfmm's workarounds were "
            f"written for {library} {tested}; see tfmm/_keras_compat.py)"
        ) from None
    return found


def check_private_api():
    """Raises if any private name a workaround uses is missing from the installed Keras
    or TensorFlow (`PRIVATE_NAMES`)."""
    for module, name, _ in PRIVATE_NAMES:
        _private(module, name)


def set_resume_epoch(model, epoch):
    """Makes the next `fit` start after `epoch` (a resumed backup), as Keras's own
    `BackupAndRestore` does through the trainer's private `_initial_epoch`."""
    _private("keras.src.trainers.trainer", "Trainer.__init__")
    if not hasattr(model, "_initial_epoch"):
        raise RuntimeError(
            f"tfmm resumes a run through the Keras trainer's private "
            f"`_initial_epoch`, which Keras {keras.__version__} does not "
            f"have (written for Keras {TESTED}; see tfmm/_keras_compat.py)"
        )
    model._initial_epoch = epoch


def op_def_registry():
    """TensorFlow's registry of core op definitions (`tfmm.export.ops` asks it which ops
    of a SavedModel TF Serving knows)."""
    return _private("tensorflow.python.framework.op_def_registry", "get")


def worker_server_address(server, default):
    """The HOST:PORT a tf.data service worker bound (its private `_address`; the public
    API says only the port), or `default`."""
    try:
        return server._address
    except AttributeError:
        return default


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


# (module, name, why): every private name tfmm uses, checked by `check_private_api`.
PRIVATE_NAMES = [
    (
        "keras.src.backend.tensorflow.trainer",
        "reduce_per_replica",
        "keras_multiworker_fixes: scalar logs under MultiWorkerMirroredStrategy",
    ),
    (
        "keras.src.trainers.trainer",
        "Trainer._symbolic_build",
        "build_from_spec: metrics built from the dataset's spec under several replicas",
    ),
    (
        "keras.src.backend.tensorflow.trainer",
        "TensorFlowTrainer._maybe_symbolic_build",
        "build_from_spec: replaced on the model so fit does not pull a batch to build",
    ),
    (
        "keras.src.export.tf2onnx_lib",
        "patch_tf2onnx",
        "patch_tf2onnx: Keras's numpy-2 patch of tf2onnx",
    ),
    (
        "keras.src.callbacks.backup_and_restore",
        "BackupAndRestore._load_model",
        "tfmm.training.callbacks.Backup overrides it (an atomic backup)",
    ),
    (
        "keras.src.callbacks.backup_and_restore",
        "BackupAndRestore._save_model",
        "tfmm.training.callbacks.Backup overrides it (an atomic backup)",
    ),
    (
        "tensorflow.python.framework.op_def_registry",
        "get",
        "op_def_registry: which SavedModel ops core TensorFlow defines",
    ),
    (
        "tensorflow.python.data.experimental.service.server_lib",
        "WorkerServer._address",
        "worker_server_address: the address a tf.data service worker bound",
    ),
]
