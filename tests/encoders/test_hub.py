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
        return {"features": tf.reduce_mean(images, axis=[1, 2]) @ self.w,
                "extra": tf.reduce_max(images, axis=[1, 2])}


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
    with pytest.raises(ValueError, match=r"has outputs \['extra', 'features'\]; set "
                                         r"encoder\.output_key"):
        HubEncoder(path, modality="image", image_size=[8, 8])


def test_hub_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no SavedModel directory at '.*nowhere'"):
        HubEncoder(str(tmp_path / "nowhere"), modality="text")


def test_a_hub_text_model_is_refused_for_onnx_and_exports_as_savedmodel(tmp_path):
    import tfmm
    from tfmm.export import export_model

    path = _save(_TextModule(), str(tmp_path / "text_sm"))
    config = tfmm.config_from_dict({
        "inputs": [{"name": "caption", "type": "text",
                    "encoder": {"type": "hub", "handle": path}}],
        "outputs": [{"name": "label", "labels": ["a", "b"]}]})
    model = tfmm.build_model(config)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"onnx: input 'caption' takes strings .* "
                                         r"--format savedmodel"):
        export_model(model, config, {}, str(out), log=lambda *a: None)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
    paths = export_model(model, config, {}, str(out), formats=("savedmodel",),
                         log=lambda *a: None)
    serve = tf.saved_model.load(paths["savedmodel"]).signatures["serving_default"]
    text = np.array([b"the cat sat", b"a dog"])
    np.testing.assert_allclose(serve(caption=tf.constant(text))["label_probabilities"],
                               model({"caption": text})["label"], atol=1e-5)
