"""`import tfmm` makes every `.keras` file tfmm wrote loadable, without importing Keras.

Keras finds a custom class of a saved model (`tfmm>TextCNNEncoder`) only once its module
has run `register_keras_serializable`. `tfmm/__init__` stays light (the `tfmm` command's
argument parsing and the TensorFlow-free `tfmm.client` must not pay TensorFlow's import),
so the registering modules are imported at the latest moment that still works: right
after Keras itself is imported. When Keras is already imported, that is at once;
otherwise a one-shot import hook (the post-import hook pattern of `wrapt`) runs it when
`import keras` completes. Either way, `import tfmm, keras; keras.saving.load_model(p)`
loads a tfmm model with `safe_mode=True`.
"""

import importlib
import importlib.abc
import importlib.util
import logging
import sys

# Every module that defines a class registered with `register_keras_serializable`.
KERAS_OBJECT_MODULES = (
    "tfmm.layers",
    "tfmm.encoders",
    "tfmm.fusion",
    "tfmm.models",
    "tfmm.pretraining.contrastive",
    "tfmm.training.schedules",
)

_done = False


def register_keras_objects():
    """Imports every module that registers a tfmm Keras class (once)."""
    global _done
    if _done:
        return
    _done = True
    for name in KERAS_OBJECT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as e:  # an optional dependency is missing: its classes only
            logging.getLogger("tfmm").debug("tfmm: %s not registered (%s)", name, e)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds `keras` through the other finders and registers tfmm's classes after its
    module has run."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        uninstall()
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_keras_objects()

        spec.loader.exec_module = exec_then_register
        return spec


_HOOK = _AfterKerasImport()


def uninstall():
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


def install():
    """Registers tfmm's Keras classes now if Keras is imported, else when it is."""
    if "keras" in sys.modules:
        register_keras_objects()
    elif _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)
