"""The example scripts run as a user would run them."""

import importlib.util
import os
import subprocess
import sys

import keras
import pytest

from tests.helpers import write_tiny_train_config

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_with_fit_example(train_data, tmp_path, capsys):
    config = write_tiny_train_config(tmp_path, train_data)
    out = str(tmp_path / "m.keras")
    _load("train_with_fit").main([config, "--epochs", "1", "--save", out])
    assert "test: {" in capsys.readouterr().out
    model = keras.saving.load_model(out, safe_mode=True)
    assert sorted(model.output) == ["label"]


def test_train_tpu_example_without_a_tpu_says_so_and_fails(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(EXAMPLES, "train_tpu.py"),
            os.path.join(EXAMPLES, "tri_modal.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
    )
    assert proc.returncode == 1
    assert "no TPU found by TPUClusterResolver" in proc.stderr


@pytest.mark.parametrize("name", ["tri_modal.yaml", "cross_attention_missing_audio.yaml"])
def test_example_configs_load_and_build(name):
    import tfmm

    config = tfmm.load_config(os.path.join(EXAMPLES, name))
    assert [i.name for i in config.inputs] == ["text", "image", "audio"]
    config.outputs[0].labels = ["a", "b"]
    model = tfmm.build_model(config, {"text": ["", "[UNK]", "cat"]})
    assert model.output["label"].shape == (None, 2)
