"""The tabular encoders alone and in the token-level fusions: shapes, config and .keras
round trips, and the FT-Transformer's tokens through single_stream to ONNX."""

import numpy as np
import pytest

import tfmm
from tfmm.encoders.ft_transformer import FTTransformerEncoder
from tfmm.encoders.tabular_mlp import TabularMLPEncoder
from tests.helpers import TINY_TEXTCNN, run_encoder_test

STATE = {
    "numeric": {
        "a": {"edges": [0.0, 1.0, 2.0], "median": 1.0},
        "b": {"edges": [-5.0, 0.0, 100.0], "median": 0.0},
    },
    "categorical": {"c": ["x", "y"]},
}


def _x():
    return {
        "numeric": np.array([[0.5, np.nan], [3.0, 50.0]], "float32"),
        "categorical": np.array([[2, 0], [1, 3]], "int32")[:, :1],
    }


def test_mlp_encoder(tmp_path):
    enc = TabularMLPEncoder(STATE, ["a", "b"], ["c"], dim=4, hidden_units=[6, 5])
    run_encoder_test(enc, _x(), 5, tmp_path)


def test_ft_transformer_encoder(tmp_path):
    enc = FTTransformerEncoder(
        STATE, ["a", "b"], ["c"], dim=8, num_layers=1, num_heads=2, intermediate_dim=16
    )
    run_encoder_test(enc, _x(), 8, tmp_path)
    tokens = FTTransformerEncoder(
        STATE,
        ["a", "b"],
        ["c"],
        dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        return_sequence=True,
    )
    out = tokens(_x())
    # [CLS] + one token per column (2 numeric + 1 categorical), all valid.
    assert tuple(out["sequence"].shape) == (2, 4, 8)
    assert np.asarray(out["mask"]).all()


def test_a_missing_state_column_is_named():
    with pytest.raises(ValueError, match=r"no numeric column 'zzz'"):
        TabularMLPEncoder(STATE, ["zzz"], [])


@pytest.mark.slow
def test_ft_transformer_tokens_in_single_stream_export_to_onnx(tmp_path):
    from tfmm.export import export_model
    from tfmm.export.onnx import onnx_predict, onnx_session

    config = tfmm.config_from_dict(
        {
            "inputs": [
                {"name": "text", "type": "text", "encoder": TINY_TEXTCNN},
                {
                    "name": "facts",
                    "type": "tabular",
                    "numeric": ["a", "b"],
                    "categorical": ["c"],
                    "encoder": {
                        "type": "ft_transformer",
                        "dim": 8,
                        "num_layers": 1,
                        "num_heads": 2,
                        "intermediate_dim": 16,
                    },
                },
            ],
            "fusion": {
                "type": "single_stream",
                "dim": 8,
                "num_heads": 2,
                "num_layers": 1,
                "intermediate_dim": 16,
                "dropout": 0.0,
            },
            "outputs": [{"name": "label", "labels": ["p", "q"]}],
        }
    )
    vocabularies = {"text": ["", "[UNK]", "a", "b"], "facts": STATE}
    model = tfmm.build_model(config, vocabularies)
    out = export_model(
        model, config, vocabularies, str(tmp_path / "exp"), formats="onnx", log=lambda *a: None
    )
    x = {
        "text": np.array([[2, 3, 0, 0, 0, 0, 0, 0]] * 2, "int32"),
        "facts_numeric": np.array([[0.5, np.nan], [9.0, -1.0]], "float32"),
        "facts_categorical": np.array([[2], [1]], "int32"),
    }
    want = model.predict(x, verbose=0)["label"]
    got = onnx_predict(onnx_session(out["onnx"]), config, x)["label"]
    np.testing.assert_allclose(got, want, atol=1e-4)
