"""A feature whose optional dependency is missing stops at once with one line naming the
extra to install; the core (no keras-hub, tf2onnx, matplotlib...) trains, predicts and
exports a SavedModel. Modules are hidden by putting None in `sys.modules`."""

import os
import subprocess
import sys

import pytest

import tfmm
from tfmm._extras import OPTIONAL, MissingExtra, require
from tests.helpers import TINY_INPUTS, run_tfmm, write_tiny_train_config


def test_every_optional_module_names_an_extra_declared_in_setup_cfg():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(os.path.dirname(os.path.dirname(__file__)), "setup.cfg"))
    extras = dict(cfg["options.extras_require"])
    core = cfg["options"]["install_requires"]
    for module, (package, extra) in OPTIONAL.items():
        assert package in extras[extra], (module, extra)
        assert package in extras["all"] and package in extras["test"], package
        assert package not in core, f"{package} is optional but in the core"


def test_a_hidden_module_is_named_with_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(
        MissingExtra,
        match=r"^export format onnx needs tf2onnx: pip install "
        r"'tfmm\[onnx\]'$",
    ):
        require("tf2onnx", "export format onnx")


def test_onnx_export_without_tf2onnx_stops_before_writing(monkeypatch, tmp_path):
    config = tfmm.config_from_dict(
        {"inputs": [TINY_INPUTS["image"]], "outputs": [{"name": "label", "labels": ["a", "b"]}]}
    )
    model = tfmm.build_model(config)
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(
        MissingExtra,
        match=r"export format onnx needs tf2onnx: "
        r"pip install 'tfmm\[onnx\]'",
    ):
        tfmm.export.export_model(
            model, config, {}, str(tmp_path / "exp"), formats="savedmodel,onnx", log=lambda *a: None
        )
    assert not (tmp_path / "exp").exists()


def test_keras_hub_features_name_their_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    config = tfmm.config_from_dict(
        {
            "inputs": [TINY_INPUTS["image"], TINY_INPUTS["audio"]],
            "fusion": {
                "type": "single_stream",
                "dim": 8,
                "num_heads": 2,
                "num_layers": 1,
                "intermediate_dim": 8,
            },
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    with pytest.raises(
        MissingExtra,
        match=r"the single_stream fusion needs keras-hub: "
        r"pip install 'tfmm\[keras-hub\]'",
    ):
        tfmm.build_model(config)


def test_the_cli_says_the_missing_extra_in_one_line(train_data, tmp_path):
    """`tfmm export --format onnx` in a process where tf2onnx cannot be imported."""
    path = write_tiny_train_config(tmp_path, train_data, modalities=("text", "audio"), epochs=1)
    code, out = run_tfmm(["train", path, "--out", str(tmp_path / "run")])
    assert code == 0, out
    hide = (
        "import sys; sys.modules['tf2onnx'] = None; from tfmm.cli import main; "
        f"sys.exit(main(['export', {str(tmp_path / 'run')!r}, '--out', "
        f"{str(tmp_path / 'exp')!r}, '--format', 'onnx']))"
    )
    done = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("tfmm")]
    assert lines == [
        "tfmm export: error: export format onnx needs tf2onnx: pip install 'tfmm[onnx]'"
    ], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_training_without_matplotlib_has_no_plots_and_says_so(
    train_data, tmp_path, monkeypatch, caplog
):
    import logging

    from tfmm.training import reports

    caplog.set_level(logging.INFO, logger="tfmm")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(reports, "_SAID", [])
    path = write_tiny_train_config(tmp_path, train_data, modalities=("text",), epochs=1)
    lines = []
    tfmm.training.train(tfmm.load_config(path), str(tmp_path / "run"), verbose=0, log=lines.append)
    assert (tmp_path / "run" / "model.keras").exists()
    assert not (tmp_path / "run" / "learning_curves.png").exists()
    said = [r.getMessage() for r in caplog.records if "plots" in r.getMessage()]
    assert said == [
        "tfmm: no learning_curves.png (nor other plots): plots needs "
        "matplotlib: pip install 'tfmm[plots]'"
    ]
