"""Export formats are records in one table: a new format is one registration, and both
`export_model` and `tfmm export --format` take it."""

import os

import numpy as np
import pytest

import tfmm
from tfmm.export import EXPORT_FORMATS, export_model
from tfmm.export.formats import ExportFormat, register_export_format, resolve_formats
from tests.helpers import tiny_config


@pytest.fixture
def npz_format():
    """A toy format: the weights as one .npz file, checked by reloading it."""

    def write(model, config, vocabularies, staging):
        np.savez(os.path.join(staging, "weights.npz"), *model.get_weights())
        return {"npz": "weights.npz"}

    def check(paths, model, config, probe, expected):
        saved = np.load(paths["npz"])
        for k, w in enumerate(model.get_weights()):
            np.testing.assert_array_equal(saved[f"arr_{k}"], w)

    def refuse(model, config):
        return "no audio here" if any(i.type == "audio" for i in config.inputs) else None

    register_export_format(
        ExportFormat(
            name="npz",
            title="the weights (npz)",
            default=False,
            refuse=refuse,
            write=write,
            check=check,
            describe=lambda paths: f"npz -> {paths['npz']}",
        )
    )
    yield
    del EXPORT_FORMATS["npz"]


def test_a_registered_format_exports_and_is_refused_by_its_own_rule(npz_format, tmp_path):
    config = tiny_config(("text", "image"))
    model = tfmm.build_model(config, {"text": ["", "[UNK]", "a", "b"]})
    lines = []
    out = export_model(
        model,
        config,
        {"text": ["", "[UNK]", "a", "b"]},
        str(tmp_path / "exp"),
        formats="npz,savedmodel",
        log=lines.append,
    )
    assert out["npz"] == os.path.join(out["version_dir"], "weights.npz")
    assert len(np.load(out["npz"]).files) == len(model.get_weights())
    assert any("writing the weights (npz)" in line for line in lines)
    assert resolve_formats("all") == ("savedmodel", "onnx")  # not a default format
    audio = tiny_config(("text", "audio"))
    with pytest.raises(ValueError, match="^npz: no audio here$"):
        export_model(
            tfmm.build_model(audio, {"text": ["", "[UNK]", "a"]}),
            audio,
            {"text": ["", "[UNK]", "a"]},
            str(tmp_path / "exp2"),
            formats=["npz"],
        )
    assert not (tmp_path / "exp2").exists() or not os.listdir(tmp_path / "exp2")


def test_a_second_record_of_one_name_is_refused():
    with pytest.raises(ValueError, match="'onnx' is already registered"):
        register_export_format(EXPORT_FORMATS["onnx"])


def test_unknown_names_list_the_table():
    with pytest.raises(
        ValueError,
        match=r"among \['savedmodel', 'onnx', 'tflite'\]. "
        r"Received: \['onnx', 'coreml'\]",
    ):
        resolve_formats("onnx, coreml")
