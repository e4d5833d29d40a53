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
