import numpy as np
import pytest
import tensorflow as tf

from tfmm.encoders import HubEncoder


class _TextModule(tf.Module):
    def __init__(self):
        self.table = tf.Variable(np.random.default_rng(0).normal(size=(16, 5)), dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def embed(self, text):
        words = tf.strings.split(text)
        ids = tf.strings.to_hash_bucket_fast(words, 16)
        return {"embedding": tf.reduce_mean(tf.gather(self.table, ids), axis=1)}


class _ImageModule(tf.Module):
    def __init__(self):
        self.w = tf.Variable(np.random.default_rng(1).normal(size=(3, 4)), dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def embed(self, images):
        return {
            "features": tf.reduce_mean(images, axis=[1, 2]) @ self.w,
            "extra": tf.reduce_max(images, axis=[1, 2]),
        }


def _save(module, path):
    tf.saved_model.save(module, path, signatures={"serving_default": module.embed})
    return path


def test_hub_text_encoder_on_a_local_saved_model(tmp_path):
    module = _TextModule()
    path = _save(module, str(tmp_path / "text_sm"))
    enc = HubEncoder(path, modality="text")
    text = np.array(["the cat sat", "a dog"])
    expected = module.embed(tf.constant(text))["embedding"]
    np.testing.assert_allclose(np.asarray(enc(text)), expected.numpy(), atol=1e-6)
    assert enc.output_dim == 5


def test_hub_image_encoder_picks_output_and_scales_pixels(tmp_path):
    module = _ImageModule()
    path = _save(module, str(tmp_path / "image_sm"))
    enc = HubEncoder(path, modality="image", image_size=[8, 8], output_key="features")
    x = np.random.default_rng(2).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = module.embed(tf.constant(x / 255.0))["features"]
    np.testing.assert_allclose(np.asarray(enc(x)), expected.numpy(), atol=1e-5)
    with pytest.raises(
        ValueError,
        match=r"has outputs \['extra', 'features'\]; set "
        r"encoder\.output_key",
    ):
        HubEncoder(path, modality="image", image_size=[8, 8])


def test_hub_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no SavedModel directory at '.*nowhere'"):
        HubEncoder(str(tmp_path / "nowhere"), modality="text")


def test_a_hub_text_model_is_refused_for_onnx_and_exports_as_savedmodel(tmp_path):
    import tfmm
    from tfmm.export import export_model

    path = _save(_TextModule(), str(tmp_path / "text_sm"))
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {"name": "caption", "type": "text", "encoder": {"type": "hub", "handle": path}}
            ],
            "outputs": [{"name": "label", "labels": ["a", "b"]}],
        }
    )
    model = tfmm.build_model(config)
    out = tmp_path / "out"
    with pytest.raises(
        ValueError,
        match=r"onnx: input 'caption' takes strings .* "
        r"--format savedmodel",
    ):
        export_model(model, config, {}, str(out), log=lambda *a: None)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
    paths = export_model(model, config, {}, str(out), formats=("savedmodel",), log=lambda *a: None)
    serve = tf.saved_model.load(paths["savedmodel"]).signatures["serving_default"]
    text = np.array([b"the cat sat", b"a dog"])
    np.testing.assert_allclose(
        serve(caption=tf.constant(text))["label_probabilities"],
        model({"caption": text})["label"],
        atol=1e-5,
    )


class _AudioModule(tf.Module):
    """YAMNet's interface in miniature: one waveform [samples] -> (scores [frames, 3],
    embeddings [frames, 4], spectrogram [frames, 2]); 800-sample frames every 400."""

    def __init__(self):
        self.w = tf.Variable(
            np.random.default_rng(3).normal(size=(800, 4)) * 0.05, dtype=tf.float32
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def embed(self, waveform):
        frames = tf.signal.frame(waveform, 800, 400, pad_end=True)
        embeddings = tf.nn.relu(frames @ self.w)
        return (embeddings[:, :3], embeddings, frames[:, :2])


def _expected_audio(module, waves, lengths, hop=400):
    out = []
    for wave, n in zip(waves, lengths):
        e = module.embed(tf.constant(wave))[1].numpy()
        valid = (np.arange(len(e)) * hop < n) | (np.arange(len(e)) == 0)
        out.append(np.concatenate([e[valid].mean(0), e[valid].max(0)]))
    return np.stack(out)


def test_hub_audio_encoder_runs_a_yamnet_style_signature_clip_by_clip(tmp_path):
    module = _AudioModule()
    path = _save(module, str(tmp_path / "audio_sm"))
    enc = HubEncoder(
        path,
        modality="audio",
        output_key="output_1",
        num_samples=4000,
        sample_rate=16000,
        frame_hop_seconds=400 / 16000,
    )
    rng = np.random.default_rng(4)
    waves = rng.uniform(-1, 1, (3, 4000)).astype("float32")
    lengths = np.array([4000, 1000, 0], "int32")
    waves[1, 1000:] = 0
    waves[2] = 0
    got = np.asarray(enc({"waveform": waves, "length": lengths}))
    np.testing.assert_allclose(got, _expected_audio(module, waves, lengths), atol=1e-5)
    assert enc.output_dim == 8
    seq = HubEncoder(
        path,
        modality="audio",
        output_key="output_1",
        num_samples=4000,
        frame_hop_seconds=400 / 16000,
        return_sequence=True,
    )
    out = seq({"waveform": waves, "length": lengths})
    assert tuple(out["sequence"].shape) == (3, 10, 4)
    assert np.asarray(out["mask"]).sum(1).tolist() == [10, 3, 1]
    with pytest.raises(
        ValueError,
        match=r"has outputs \['output_0', 'output_1', "
        r"'output_2'\]; set encoder\.output_key",
    ):
        HubEncoder(path, modality="audio", num_samples=4000)


def test_a_hub_audio_model_trains_reloads_and_serves(tmp_path):
    # From the config, through a training step, a safe_mode reload and the SavedModel's
    # raw signature (WAV bytes in), and refused by name for ONNX.
    import keras

    import tfmm
    from tfmm.export import export_model
    from tests.helpers import random_inputs, random_targets

    module = _AudioModule()
    path = _save(module, str(tmp_path / "audio_sm"))
    config = tfmm.config_from_dict(
        {
            "inputs": [
                {
                    "name": "speech",
                    "type": "audio",
                    "clip_seconds": 0.25,
                    "encoder": {
                        "type": "hub",
                        "handle": path,
                        "output_key": "output_1",
                        "frame_hop_seconds": 0.025,
                    },
                }
            ],
            "outputs": [{"name": "label", "labels": ["a", "b", "c"]}],
        }
    )
    model = tfmm.build_model(config)
    tfmm.models.compile_model(model, config)
    x, y = random_inputs(model, batch=4), random_targets(config, batch=4)
    model.fit(x, y, epochs=1, verbose=0)
    saved = str(tmp_path / "m.keras")
    model.save(saved)
    again = keras.saving.load_model(saved, safe_mode=True)
    np.testing.assert_allclose(
        again.predict(x, verbose=0)["label"], model.predict(x, verbose=0)["label"], atol=1e-6
    )
    with pytest.raises(
        ValueError,
        match=r"onnx: input 'speech' uses the hub encoder for "
        r"audio .* --format savedmodel",
    ):
        export_model(model, config, {}, str(tmp_path / "bad"), log=lambda *a: None)
    paths = export_model(
        model, config, {}, str(tmp_path / "out"), formats=("savedmodel",), log=lambda *a: None
    )
    wav = tf.audio.encode_wav(np.asarray(x["speech"][0])[:, None], 16000)
    serve = tf.saved_model.load(paths["savedmodel"]).signatures["serving_default"]
    got = serve(speech=tf.constant([wav.numpy()]))["label_probabilities"].numpy()
    want = model.predict(
        {"speech": np.asarray(x["speech"][:1]), "speech_length": np.array([4000], "int32")},
        verbose=0,
    )["label"]
    np.testing.assert_allclose(got, want, atol=1e-4)
