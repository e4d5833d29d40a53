"""The `keras_hub` encoders, from local preset directories the test writes (no download):
for images a vision backbone (ViT, CLIP's vision tower) with the preset's pixel scaling
and pooling; for audio Moonshine's encoder on the waveform with its frame mask. Round
trips, freezing and export to both runtimes."""

import numpy as np
import pytest

import tfmm
from tests.helpers import random_inputs, run_encoder_test

SCALE, OFFSET = 0.5 / 255, -0.25


@pytest.fixture(scope="module")
def vit_preset(tmp_path_factory):
    import keras_hub

    path = str(tmp_path_factory.mktemp("presets") / "vit")
    vit = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3), patch_size=8, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16
    )
    vit.save_to_preset(path)
    keras_hub.layers.ImageConverter(image_size=(16, 16), scale=SCALE, offset=OFFSET).save_to_preset(
        path
    )
    return path


@pytest.fixture(scope="module")
def clip_preset(tmp_path_factory):
    import keras_hub

    path = str(tmp_path_factory.mktemp("presets") / "clip")
    vision = keras_hub.models.CLIPVisionEncoder(
        patch_size=8,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        image_shape=(16, 16, 3),
    )
    text = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=20,
        embedding_dim=8,
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    keras_hub.models.CLIPBackbone(vision, text, projection_dim=8).save_to_preset(path)
    return path


def _config(preset, image_size=16, fusion="concat", **encoder):
    return tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "photo",
                    "type": "image",
                    "image_size": image_size,
                    "encoder": {"type": "keras_hub", "preset": preset, **encoder},
                },
                {
                    "name": "clip",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": {"type": "cnn", "filters": [4], "num_mel_bins": 8},
                },
            ],
            "fusion": {"type": fusion},
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )


def _pixels(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, 16, 16, 3)).astype("float32")


def test_vit_preset_gives_the_class_token_of_its_own_weights_and_scaling(vit_preset, tmp_path):
    import keras_hub

    from tfmm.encoders import build_encoder

    config = _config(vit_preset)
    enc = build_encoder(config.inputs[0])
    x = _pixels()
    # The preset's backbone, read again, on the preset's scaling of the same pixels.
    ref = keras_hub.models.Backbone.from_preset(vit_preset)
    want = np.asarray(ref(x * SCALE + OFFSET))[:, 0]
    np.testing.assert_allclose(enc(x), want, atol=1e-5)
    run_encoder_test(enc, x, expected_dim=8, tmp_path=tmp_path)
    mean = build_encoder(_config(vit_preset, pooling="mean").inputs[0])
    np.testing.assert_allclose(mean(x), np.asarray(ref(x * SCALE + OFFSET)).mean(1), atol=1e-5)


def test_clip_preset_gives_its_vision_tower(clip_preset):
    import keras_hub

    from tfmm.encoders import build_encoder

    enc = build_encoder(_config(clip_preset).inputs[0])
    x = _pixels(seed=1)
    tower = keras_hub.models.Backbone.from_preset(clip_preset).vision_encoder
    # No image converter in this preset: pixels are scaled to [0, 1].
    want = np.asarray(tower({"images": x / 255.0}))[:, 0]
    np.testing.assert_allclose(enc(x), want, atol=1e-5)


def test_frozen_and_pretrained(vit_preset):
    from tfmm.training.setup import pretrained_encoders

    config = _config(vit_preset, trainable=False)
    model = tfmm.build_model(config)
    assert model.get_layer("photo_encoder").trainable_weights == []
    trainable = _config(vit_preset)
    assert pretrained_encoders(trainable) == ["photo_encoder"]


def test_wrong_image_size_and_missing_preset_are_refused(vit_preset):
    from tfmm.encoders import build_encoder

    with pytest.raises(
        ValueError,
        match=r"input 'photo': the preset .* takes 16x16 images; "
        r"set image_size: \[16, 16\]. Received: "
        r"image_size=\[32, 32\]",
    ):
        build_encoder(_config(vit_preset, image_size=32).inputs[0])
    with pytest.raises(tfmm.ConfigError, match=r"preset: a keras_hub encoder needs a preset"):
        _config(None)


def _saves_reloads_and_exports(config, tmp_path, seed):
    """The model: a `.keras` round trip with safe_mode, then the SavedModel and the ONNX
    export against Keras."""
    import keras
    import tensorflow as tf

    from tfmm.export import export_model, onnx_predict, onnx_session

    model = tfmm.build_model(config)
    x = random_inputs(model, batch=2, seed=seed)
    want = np.asarray(model(x, training=False)["label"])
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(again(x, training=False)["label"], want, atol=1e-6)
    paths = export_model(model, config, {}, str(tmp_path / "sm"), log=lambda *a: None)
    np.testing.assert_allclose(
        onnx_predict(onnx_session(paths["onnx"]), config, x)["label"], want, atol=1e-4
    )
    loaded = tfmm.export.load_saved_model(paths["savedmodel"])
    got = loaded.signatures["predict_tensors"](**{k: tf.constant(v) for k, v in x.items()})
    np.testing.assert_allclose(got["label_probabilities"].numpy(), want, atol=1e-5)


@pytest.mark.parametrize("fusion", ["concat", "single_stream"])
def test_model_saves_reloads_and_exports_to_both_runtimes(vit_preset, tmp_path, fusion):
    _saves_reloads_and_exports(_config(vit_preset, fusion=fusion), tmp_path, seed=3)


@pytest.fixture(scope="module")
def moonshine_preset(tmp_path_factory):
    import keras_hub

    path = str(tmp_path_factory.mktemp("presets") / "moonshine")
    keras_hub.models.MoonshineBackbone(
        vocabulary_size=20,
        filter_dim=8,
        encoder_num_layers=1,
        decoder_num_layers=1,
        hidden_dim=8,
        intermediate_dim=16,
        encoder_num_heads=2,
        decoder_num_heads=2,
    ).save_to_preset(path)
    return path


def _audio_config(preset, fusion="concat", sample_rate=16000, **encoder):
    return tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "speech",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "sample_rate": sample_rate,
                    "encoder": {"type": "keras_hub", "preset": preset, **encoder},
                },
                {
                    "name": "photo",
                    "type": "image",
                    "image_size": 8,
                    "encoder": {"type": "cnn", "filters": [4]},
                },
            ],
            "fusion": {"type": fusion},
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )


def test_moonshine_preset_pools_its_encoder_over_the_valid_frames(moonshine_preset, tmp_path):
    import keras_hub

    from tfmm.encoders import build_encoder

    enc = build_encoder(_audio_config(moonshine_preset).inputs[0])
    rng = np.random.default_rng(0)
    wave = rng.uniform(-0.5, 0.5, (2, 4000)).astype("float32")
    wave[1, 1500:] = 0.0  # the second clip: 1,500 samples, then padding
    x = {"waveform": wave, "length": np.array([4000, 1500], "int32")}
    # The preset's backbone, read again: its encoder outputs on the same clips.
    ref = keras_hub.models.Backbone.from_preset(moonshine_preset)
    out = ref(
        {
            "encoder_input_values": wave[..., None],
            "encoder_padding_mask": np.arange(4000)[None] < x["length"][:, None],
            "decoder_token_ids": np.ones((2, 1), "int32"),
            "decoder_padding_mask": np.ones((2, 1), bool),
        }
    )
    seq, mask = (
        np.asarray(out["encoder_sequence_output"]),
        np.asarray(out["encoder_attention_mask"]) > 0.5,
    )
    assert mask[0].all() and 0 < mask[1].sum() < mask.shape[1]
    want = np.stack([np.concatenate([s[m].mean(0), s[m].max(0)]) for s, m in zip(seq, mask)])
    np.testing.assert_allclose(enc(x), want, atol=1e-5)
    # Only the encoder's weights: the decoder is neither trained nor saved.
    assert 0 < len(enc.trainable_weights) < len(ref.trainable_weights)
    run_encoder_test(enc, x, expected_dim=16, tmp_path=tmp_path)


def test_moonshine_needs_16_khz_and_a_moonshine_preset(moonshine_preset, vit_preset):
    from tfmm.encoders import build_encoder

    with pytest.raises(
        ValueError,
        match=r"input 'speech': Moonshine reads 16 kHz audio; set "
        r"sample_rate: 16000 .*Received: sample_rate=8000",
    ):
        build_encoder(_audio_config(moonshine_preset, sample_rate=8000).inputs[0])
    with pytest.raises(
        ValueError,
        match=r"input 'speech': a keras_hub audio encoder needs a "
        r"Moonshine preset .*Received: ViTBackbone",
    ):
        build_encoder(_audio_config(vit_preset).inputs[0])


@pytest.mark.parametrize("fusion", ["concat", "cross_attention"])
def test_moonshine_model_saves_reloads_and_exports(moonshine_preset, tmp_path, fusion):
    _saves_reloads_and_exports(_audio_config(moonshine_preset, fusion=fusion), tmp_path, seed=4)


@pytest.mark.parametrize("which", ["vit", "moonshine"])
def test_under_mixed_precision(vit_preset, moonshine_preset, which):
    import keras

    config = _config(vit_preset) if which == "vit" else _audio_config(moonshine_preset)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = tfmm.build_model(config)
        encoder = model.get_layer(config.inputs[0].name + "_encoder")
        out = model(random_inputs(model, batch=2, seed=5), training=False)["label"]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert encoder.compute_dtype == "bfloat16"
    if which == "moonshine":  # kept in float32: keras-hub's encoder block mixes dtypes
        inner = encoder.get_layer("moonshine_encoder")
        assert {layer.compute_dtype for layer in inner.layers if layer.weights} == {"float32"}
    probs = np.asarray(out, "float32")
    assert out.dtype == "float32" and np.allclose(probs.sum(-1), 1.0, atol=1e-3)
