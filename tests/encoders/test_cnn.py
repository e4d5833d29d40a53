"""The compact CNN encoders (`encoder.type: cnn`) for images and audio."""

import keras
import numpy as np
import pytest

import tfmm
from tests.helpers import random_inputs, run_encoder_test, run_model_saving_test
from tfmm.encoders import AudioCNNEncoder, ImageCNNEncoder


def _audio(**kw):
    kw.setdefault("filters", [4, 8])
    return AudioCNNEncoder(num_samples=4000, num_mel_bins=8, **kw)


def _x(batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "waveform": rng.uniform(-1, 1, (batch, 4000)).astype("float32"),
        "length": np.array([4000, 1600, 0][:batch], "int32"),
    }


def test_image_cnn(tmp_path):
    enc = ImageCNNEncoder(image_size=[16, 16], filters=[4, 8], norm="group", dropout=0.1)
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    run_encoder_test(enc, x, expected_dim=8, tmp_path=tmp_path)


def test_image_pooling_is_the_mean_or_max_of_the_last_feature_map(tmp_path):
    x = np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    grid = ImageCNNEncoder(image_size=[16, 16], filters=[4, 8], return_sequence=True)
    features = np.asarray(grid(x)["sequence"])  # [2, 64 cells, 8]
    for pooling, expected in (
        ("avg", features.mean(1)),
        ("max", features.max(1)),
        ("avg_max", np.concatenate([features.mean(1), features.max(1)], -1)),
    ):
        enc = ImageCNNEncoder(image_size=[16, 16], filters=[4, 8], pooling=pooling)
        enc.set_weights(grid.get_weights())
        np.testing.assert_allclose(np.asarray(enc(x)), expected, rtol=1e-5, atol=1e-5)
    run_encoder_test(enc, x, expected_dim=16, tmp_path=tmp_path)  # avg_max saves and loads
    with pytest.raises(ValueError, match="pooling must be one of .* Received: pooling='sum'"):
        ImageCNNEncoder(image_size=[16, 16], filters=[4], pooling="sum")


def test_audio_cnn(tmp_path):
    run_encoder_test(_audio(), _x(), expected_dim=16, tmp_path=tmp_path)


def test_audio_padding_after_length_is_ignored():
    enc = _audio()
    x = _x()
    y = np.asarray(enc(x))
    # Frames start every 160 samples and are 400 long: with length 1600 the last valid
    # frame ends at 1840. Anything after that must not matter...
    noisy = {k: v.copy() for k, v in x.items()}
    noisy["waveform"][1, 1840:] = np.random.default_rng(5).uniform(-1, 1, 4000 - 1840)
    np.testing.assert_allclose(np.asarray(enc(noisy)), y, atol=1e-5)
    # ...while a change inside the valid part does.
    changed = {k: v.copy() for k, v in x.items()}
    changed["waveform"][1, :800] = 0.0
    assert np.abs(np.asarray(enc(changed))[1] - y[1]).max() > 1e-4


def test_audio_gain_does_not_change_the_features():
    # The per-clip normalisation removes the recording level.
    enc = _audio()
    x = _x()
    louder = {"waveform": x["waveform"] * 0.25, "length": x["length"]}
    np.testing.assert_allclose(np.asarray(enc(louder))[:2], np.asarray(enc(x))[:2], atol=2e-3)


def test_sequences_and_their_masks():
    image = ImageCNNEncoder(image_size=[16, 16], filters=[4, 8], return_sequence=True)
    out = image(np.zeros((2, 16, 16, 3), "float32"))
    assert tuple(out["sequence"].shape) == (2, 64, 8) and bool(np.all(out["mask"]))
    audio = _audio(return_sequence=True)
    out = audio(_x())
    # 23 frames pooled once by 2 ("same"): 12 steps; 1600 samples -> frames 0..9 valid
    # -> steps 0..4; a 0-length clip keeps its first step.
    assert tuple(out["sequence"].shape) == (3, 12, 8)
    assert np.asarray(out["mask"]).sum(axis=1).tolist() == [12, 5, 1]


def test_cnn_in_a_fused_model_saves_and_reloads(tmp_path):
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "image",
                    "type": "image",
                    "image_size": 16,
                    "encoder": {"type": "cnn", "filters": [4, 8], "pooling": "max"},
                },
                {
                    "name": "audio",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": {"type": "cnn", "filters": [4], "num_mel_bins": 8},
                },
            ],
            "fusion": {"type": "concat", "hidden_units": [8]},
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    model = tfmm.build_model(config)
    assert model.get_layer("image_encoder").convs_per_stage == 2
    assert model.get_layer("audio_encoder").convs_per_stage == 1
    assert model.get_layer("image_encoder").pooling == "max"
    run_model_saving_test(model, random_inputs(model), tmp_path)
    keras.utils.clear_session()


def test_config_errors_name_the_key():
    with pytest.raises(
        tfmm.ConfigError,
        match=r"inputs\[0\].encoder.pooling: images only.*Received: pooling='max'",
    ):
        tfmm.config_from_dict(
            {
                "inputs": [
                    {"name": "a", "type": "audio", "encoder": {"type": "cnn", "pooling": "max"}}
                ],
                "outputs": [{"name": "y", "labels": ["a", "b"]}],
            }
        )
    with pytest.raises(
        tfmm.ConfigError,
        match=r"inputs\[0\].encoder.filters: must be a "
        r"non-empty list",
    ):
        tfmm.config_from_dict(
            {
                "inputs": [
                    {"name": "i", "type": "image", "encoder": {"type": "cnn", "filters": []}}
                ],
                "outputs": [{"name": "y", "labels": ["a", "b"]}],
            }
        )
    with pytest.raises(tfmm.ConfigError, match="encoder 'cnn' cannot read a text input"):
        tfmm.config_from_dict(
            {
                "inputs": [{"name": "t", "type": "text", "encoder": "cnn"}],
                "outputs": [{"name": "y", "labels": ["a", "b"]}],
            }
        )
