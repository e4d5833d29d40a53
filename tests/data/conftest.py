import pytest

import tfmm
from tfmm.data.demo import demo_config


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    tfmm.data.make_demo_dataset(str(out), n=24, seed=3)
    return out


def small_demo_config(demo_dir, modalities=("text", "image", "audio"), **data):
    cfg = demo_config(str(demo_dir), modalities=modalities, batch_size=4)
    cfg["inputs"] = [dict(i) for i in cfg["inputs"]]
    for i in cfg["inputs"]:
        if i["type"] == "audio":
            i["encoder"] = {"type": "lstm", "num_mel_bins": 8, "units": [4]}
            i["clip_seconds"] = 0.5
        if i["type"] == "text":
            i["encoder"] = dict(i["encoder"], embedding_dim=4, filters=4)
    cfg["fusion"] = {"type": "concat", "hidden_units": [8], "dropout": 0.0}
    cfg["data"].update(data)
    return tfmm.config_from_dict(cfg)
