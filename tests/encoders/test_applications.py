"""MobileNetV3 and EfficientNetV2 image encoders: shapes, round trips, a weights file the
test writes (no download), the model's own preprocessing, freezing, and export."""

import keras
import numpy as np
import pytest

import tfmm
from tfmm.encoders import ApplicationEncoder
from tests.helpers import (
    random_inputs,
    randomize_weights,
    run_encoder_test,
    tiny_config,
    with_input,
)

CASES = [
    ("mobilenet", "small", "MobileNetV3Small", 576),
    ("efficientnet", "b0", "EfficientNetV2B0", 1280),
]


@pytest.mark.parametrize("family,variant,_,dim", CASES)
def test_alone(family, variant, _, dim, tmp_path):
    enc = ApplicationEncoder(family, variant, image_size=[32, 32])
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    run_encoder_test(enc, x, expected_dim=dim, tmp_path=tmp_path)


@pytest.mark.parametrize("family,variant,constructor,dim", CASES)
def test_weights_file_is_used_with_the_models_own_preprocessing(
    family, variant, constructor, dim, tmp_path
):
    # The reference is keras.applications' model fed raw [0, 255] pixels: the
    # preprocessing is inside both, so the outputs agree only if the weights are the file's.
    ref = getattr(keras.applications, constructor)(
        include_top=False, weights=None, input_shape=(40, 32, 3), pooling="avg"
    )
    # Fresh MobileNetV3 features vanish in inference mode (~1e-10): give the reference
    # random weights and BatchNorm statistics of its own, so the comparison means something.
    randomize_weights(ref)
    path = str(tmp_path / f"{family}.weights.h5")
    ref.save_weights(path)
    enc = ApplicationEncoder(family, variant, image_size=[40, 32], weights=path)
    x = np.random.default_rng(1).uniform(0, 255, (2, 40, 32, 3)).astype("float32")
    want = np.asarray(ref(x, training=False))
    assert np.abs(want).mean() > 1e-3
    np.testing.assert_allclose(enc(x), want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    fresh = ApplicationEncoder(family, variant, image_size=[40, 32])
    assert float(np.abs(np.asarray(fresh(x)) - want).max()) > 0.1 * np.abs(want).mean()
    assert enc.get_config()["weights"] is None


def test_in_a_model_from_config_frozen_and_pretrained():
    config = tiny_config(("text", "image"))
    config = with_input(config, 1, image_size=32)
    config = tfmm.config_from_dict(
        {
            **config.to_dict(),
            "inputs": [
                config.inputs[0].__dict__
                | {
                    "encoder": {
                        "type": "textcnn",
                        "sequence_length": 8,
                        "embedding_dim": 4,
                        "filters": 4,
                        "kernel_sizes": [2],
                    }
                },
                {
                    "name": "image",
                    "type": "image",
                    "image_size": 32,
                    "encoder": {"type": "mobilenet", "variant": "small", "trainable": False},
                },
            ],
        }
    )
    model = tfmm.build_model(config, {"text": ["", "[UNK]", "w"]})
    encoder = model.get_layer("image_encoder")
    assert encoder.output_dim == 576 and encoder.trainable_weights == []
    out = model(random_inputs(model, batch=2), training=False)
    assert tuple(out["label"].shape) == (2, 3)


def test_too_small_images_and_unknown_variants_are_refused():
    base = {"outputs": [{"name": "y", "labels": ["a", "b"]}]}
    with pytest.raises(tfmm.ConfigError, match=r"image_size: mobilenet needs at least 32x32"):
        tfmm.config_from_dict(
            {
                **base,
                "inputs": [
                    {"name": "p", "type": "image", "image_size": 16, "encoder": "mobilenet"}
                ],
            }
        )
    with pytest.raises(
        tfmm.ConfigError,
        match=r"variant: must be one of \['b0', 'b1', 'b2', "
        r"'b3'\]",
    ):
        tfmm.config_from_dict(
            {
                **base,
                "inputs": [
                    {
                        "name": "p",
                        "type": "image",
                        "image_size": 32,
                        "encoder": {"type": "efficientnet", "variant": "b7"},
                    }
                ],
            }
        )
