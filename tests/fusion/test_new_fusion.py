"""A new fusion is one module: a toy `toy_max` strategy, registered in this test alone,
is a config choice with its own input checks and input-dependent default, trains, and
its declared inspection output reaches `inspection_model`, `tfmm predict`'s rows and
the SavedModel export, with no list edited elsewhere."""

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.config import ConfigError
from tfmm.fusion import registry as fusions
from tfmm.predictions import prediction_rows
from tests.helpers import TINY_INPUTS, random_inputs, random_targets

WEIGHTS = "fusion_toy_weights"


@pytest.fixture
def toy_max():
    @dataclass(frozen=True)
    class ToyMaxConfig(fusions.VectorFusionBase):
        type: Literal["toy_max"] = "toy_max"
        dim: int = 4
        # The input whose branch leads; default (resolved): the last input.
        lead: Optional[str] = None

        def validate_inputs(self, inputs, path):
            if len(inputs) < 2:
                raise ConfigError(
                    f"{path}: toy_max needs two inputs or more. Received: {len(inputs)}"
                )

        def resolve_inputs(self, inputs):
            return self if self.lead else dataclasses.replace(self, lead=inputs[-1].name)

    def toy_max_fusion(features, config, presence=None, outputs=()):
        projected = [
            keras.layers.Dense(config.dim, name=f"fusion_project_{n}")(v)
            for n, v in features.items()
        ]
        scores = [
            keras.layers.Dense(1, name=f"fusion_score_{n}")(p) for n, p in zip(features, projected)
        ]
        weights = keras.layers.Softmax(name=WEIGHTS)(keras.layers.Concatenate()(scores))
        return keras.layers.Concatenate(name="fusion_out")(
            [keras.layers.Maximum(name="fusion_max")(projected), weights]
        )

    fusions.register_fusion("toy_max", config=ToyMaxConfig, inspection_outputs=(WEIGHTS,))(
        toy_max_fusion
    )
    yield
    del fusions.FUSIONS["toy_max"], fusions.FUSION_CONFIGS["toy_max"]
    fusions.INSPECTION_OUTPUTS.remove(WEIGHTS)


def _config(*modalities, **fusion):
    return tfmm.config_from_dict(
        {
            "inputs": [TINY_INPUTS[m] for m in modalities],
            "fusion": {"type": "toy_max", **fusion},
            "outputs": [{"name": "label", "type": "multiclass", "labels": ["a", "b", "c"]}],
        }
    )


def test_a_registered_fusion_checks_its_inputs_and_resolves_its_default(toy_max):
    assert _config("text", "image").fusion.lead == "image"
    assert _config("text", "image", lead="text").fusion.lead == "text"
    with pytest.raises(
        ConfigError,
        match=r"fusion: toy_max needs two inputs or more\. "
        r"Received: 1",
    ):
        _config("text")
    with pytest.raises(ConfigError, match=r"fusion\.dim: unknown key|fusion\.type"):
        tfmm.config_from_dict(
            {
                "inputs": [TINY_INPUTS["text"]],
                "fusion": {"type": "toy_min"},
                "outputs": [{"name": "label"}],
            }
        )


def test_a_registered_fusion_trains_and_exposes_its_declared_output(toy_max, tmp_path):
    config = _config("image", "audio")
    model = tfmm.compile_model(tfmm.build_model(config), config)
    x = random_inputs(model)
    model.fit(x, random_targets(config), epochs=1, verbose=0)
    assert model.get_layer("fusion_max") is not None
    out = tfmm.models.inspection_model(model).predict(x, verbose=0)
    weights = np.asarray(out[WEIGHTS])
    assert weights.shape == (4, 2)
    np.testing.assert_allclose(weights.sum(axis=1), np.ones(4), atol=1e-5)
    rows = prediction_rows(config, out)
    assert [rows[0][f"{WEIGHTS}_image"], rows[0][f"{WEIGHTS}_audio"]] == pytest.approx(
        list(weights[0]), abs=1e-6
    )
    path = tfmm.export.export_model(
        model, config, {}, str(tmp_path / "exp"), formats="savedmodel", log=lambda *a: None
    )["savedmodel"]
    served = tf.saved_model.load(path).signatures["serving_default"].structured_outputs
    assert WEIGHTS in served
