import pytest

import tfmm
from tests.helpers import tiny_demo_dict


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    tfmm.data.make_demo_dataset(str(out), n=24, seed=3)
    return out


def small_demo_config(demo_dir, modalities=("text", "image", "audio"), **data):
    cfg = tiny_demo_dict(demo_dir, modalities, epochs=8, batch_size=4)
    cfg["data"].update(data)
    return tfmm.config_from_dict(cfg)
