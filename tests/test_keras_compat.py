"""The private Keras names tfmm's workarounds use exist in the installed Keras, and a
missing one is reported by name."""

import pytest

from tfmm import _keras_compat


def test_the_installed_keras_has_every_private_name_used():
    _keras_compat.check_private_api()


def test_a_missing_private_name_says_which_and_for_which_keras():
    with pytest.raises(RuntimeError, match=r"tfmm needs Keras's private "
                                           r"keras\.src\.trainers\.trainer\.Trainer\.gone, "
                                           r"which Keras 3\.\S+ does not have .*Keras 3\.15"):
        _keras_compat._private("keras.src.trainers.trainer", "Trainer.gone")
