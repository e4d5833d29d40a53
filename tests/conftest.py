import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Nothing in the tests may reach the network: make any accidental download fail fast.
os.environ.setdefault("KAGGLE_KEY", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TFHUB_CACHE_DIR", "/nonexistent-offline-cache")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    import keras

    keras.utils.clear_session()


@pytest.fixture(scope="session")
def train_data(tmp_path_factory):
    """A small demo dataset (real JPEG, WAV and text files) for training tests."""
    import tfmm

    out = tmp_path_factory.mktemp("train_data")
    tfmm.data.make_demo_dataset(str(out), n=24, seed=0)
    return out
