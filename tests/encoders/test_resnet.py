import keras
import numpy as np
import pytest

from tfmm.encoders import ResNet50Encoder
from tests.helpers import run_encoder_test


def test_resnet_alone(tmp_path):
    enc = ResNet50Encoder(image_size=[32, 32])
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    run_encoder_test(enc, x, expected_dim=2048, tmp_path=tmp_path)


def test_resnet_local_weights_and_preprocess_input(tmp_path):
    # The weights a user points at are the ones used, and the in-model preprocessing equals
    # keras.applications.resnet.preprocess_input.
    ref = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(32, 48, 3), pooling="avg"
    )
    path = str(tmp_path / "resnet.weights.h5")
    ref.save_weights(path)
    enc = ResNet50Encoder(image_size=[32, 48], weights=path)
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 48, 3)).astype("float32")
    expected = ref(keras.applications.resnet.preprocess_input(x.copy()), training=False)
    np.testing.assert_allclose(enc(x), expected, rtol=1e-4, atol=1e-4)
    # Serialised configs never point at the weights again.
    assert enc.get_config()["weights"] is None


def test_resnet_frozen_has_no_trainable_weights():
    enc = ResNet50Encoder(image_size=[32, 32], frozen=True)
    assert enc.trainable_weights == []
    assert len(enc.weights) > 0


def test_resnet_missing_weights_file_is_named():
    with pytest.raises(FileNotFoundError, match=r"weights='/no/such\.h5'"):
        ResNet50Encoder(image_size=[32, 32], weights="/no/such.h5")
