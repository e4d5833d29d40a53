"""The private Keras names tfmm's workarounds use exist in the installed Keras, and a
missing one is reported by name."""

import pytest

from tfmm import _keras_compat


def test_the_installed_keras_has_every_private_name_used():
    _keras_compat.check_private_api()


def test_a_missing_private_name_says_which_and_for_which_keras():
    with pytest.raises(
        RuntimeError,
        match=r"tfmm needs Keras's private "
        r"keras\.src\.trainers\.trainer\.Trainer\.gone, "
        r"which Keras 3\.\S+ does not have .*Keras 3\.15",
    ):
        _keras_compat._private("keras.src.trainers.trainer", "Trainer.gone")


def test_a_missing_private_tensorflow_name_says_which():
    with pytest.raises(
        RuntimeError,
        match=r"TensorFlow's private "
        r"tensorflow\.python\.framework\.op_def_registry"
        r"\.gone, .*TensorFlow 2\.21",
    ):
        _keras_compat._private("tensorflow.python.framework.op_def_registry", "gone")


def test_no_private_keras_or_tensorflow_name_outside_the_compat_module():
    # Every private use goes through tfmm/_keras_compat.py (PRIVATE_NAMES).
    import pathlib
    import re

    import tfmm

    pattern = re.compile(
        r"keras\.src|tensorflow\.python|\._initial_epoch\b|"
        r"\._address\b|\._maybe_symbolic_build|\._symbolic_build"
    )
    offenders = []
    for path in pathlib.Path(tfmm.__file__).parent.rglob("*.py"):
        if path.name == "_keras_compat.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line.split("#")[0]):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []


def test_resume_epoch_reaches_the_trainer():
    import keras

    model = keras.Sequential([keras.layers.Dense(1)])
    _keras_compat.set_resume_epoch(model, 3)
    assert model._initial_epoch == 3
