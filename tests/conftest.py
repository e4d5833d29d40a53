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


def pytest_collection_modifyitems(items):
    """Tests that use a module-scoped fixture (a trained run, a preset, a tf.data service)
    share one xdist worker (`--dist loadgroup` in setup.cfg), so the fixture is built
    once rather than once per worker; every other test is balanced one by one."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info and any(d.scope == "module" for defs in info.name2fixturedefs.values()
                        for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
