"""A new kind of input is one module: a toy `scalar` input type (one number per row) and
its encoder, registered in this test alone, are a config choice, go through the tf.data
pipeline, train, and are served by the SavedModel's raw signature."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmm
from tfmm.config import ConfigError
from tfmm.encoders import registry as encoders
from tfmm.input_types import INPUT_TYPES, InputType, input_type, register_input_type


@pytest.fixture
def scalar_type():
    from dataclasses import dataclass
    from typing import Literal

    class Scalar(InputType):
        name, default_encoder = "scalar", "scalar_dense"

        def features(self, i, pre, raw, text=True):
            return {i.name: tf.reshape(tf.strings.to_number(raw[i.column]), [1])}

        def raw_specs(self, i):
            return {i.name: tf.TensorSpec([None], tf.float32, name=i.name)}

        def served_features(self, i, pre, raw):
            return {i.name: tf.reshape(raw[i.name], [-1, 1])}

        def served_present(self, i, raw):
            return tf.ones_like(raw[i.name])

    class ScalarEncoder(tfmm.encoders.Encoder):
        primary_input = "value"

        def __init__(self, units=2, **kwargs):
            value = keras.Input((1,), name="value")
            super().__init__(value, keras.layers.Dense(units, name="dense")(value), **kwargs)

    @dataclass(frozen=True)
    class ScalarDenseConfig(encoders.EncoderSpec):
        type: Literal["scalar_dense"] = "scalar_dense"
        units: int = 2

    register_input_type(Scalar)
    encoders.register_encoder("scalar_dense", config=ScalarDenseConfig, modalities=("scalar",))(
        lambda i, vocabulary=None, return_sequence=False: ScalarEncoder(
            i.encoder.units, name=f"{i.name}_encoder"
        )
    )
    yield
    del INPUT_TYPES["scalar"]
    for table in (encoders.ENCODERS, encoders.ENCODER_CONFIGS, encoders.ENCODER_MODALITIES):
        del table["scalar_dense"]


def test_a_registered_input_type_trains_and_serves(scalar_type, tmp_path):
    import csv

    rows = [["note", "x", "label"]] + [
        [("good" if k % 2 else "bad") + " day", str(k / 10), "b" if k % 2 else "a"]
        for k in range(24)
    ]
    with open(tmp_path / "train.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {"name": "x", "type": "scalar"},
                {"name": "note", "type": "text", "encoder": {"type": "tfidf", "units": 4}},
            ],
            "fusion": {"type": "concat", "hidden_units": [4]},
            "outputs": [{"name": "label"}],
        }
    )
    assert config.inputs[0].encoder.type == "scalar_dense"  # the type's default
    assert input_type(config.inputs[0]).columns(config.inputs[0]) == ["x"]
    vocabularies = tfmm.data.fit_preprocessing(
        config, tfmm.data.Manifest(str(tmp_path / "train.csv"))
    )
    ds = tfmm.data.make_dataset(config, str(tmp_path / "train.csv"), vocabularies, batch_size=24)
    x, _ = next(iter(ds))
    np.testing.assert_allclose(x["x"].numpy()[:3, 0], [0.0, 0.1, 0.2], atol=1e-6)
    model = tfmm.compile_model(tfmm.build_model(config, vocabularies), config)
    model.fit(ds, epochs=1, verbose=0)
    out = tfmm.export.export_model(
        model,
        config,
        vocabularies,
        str(tmp_path / "exp"),
        formats="savedmodel",
        log=lambda *a: None,
    )
    serve = tf.saved_model.load(out["savedmodel"]).signatures["serving_default"]
    got = serve(x=tf.constant([0.3, 1.1]), note=tf.constant(["good day", "bad day"]))
    want = model.predict(
        {
            "x": np.array([[0.3], [1.1]], "float32"),
            "note": tfmm.data.preprocessor.Preprocessor(config, vocabularies).text["note"](
                tf.constant(["good day", "bad day"])
            )["note"],
        },
        verbose=0,
    )
    np.testing.assert_allclose(got["label_probabilities"].numpy(), want["label"], atol=1e-5)
    assert os.path.exists(os.path.join(out["savedmodel"], "saved_model.pb"))


def test_unknown_input_type_lists_the_registered_ones():
    with pytest.raises(
        ConfigError,
        match=r"inputs\[0\]\.type: must be one of \['text', "
        r"'image', 'audio', 'tabular'\]",
    ):
        tfmm.config_from_dict(
            {"inputs": [{"name": "v", "type": "video"}], "outputs": [{"name": "y"}]}
        )
    with pytest.raises(ValueError, match="input type 'text' is already registered"):
        register_input_type(type(INPUT_TYPES["text"]))
