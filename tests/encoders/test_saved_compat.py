"""Files saved by earlier tfmm code still load: `saved/` holds what session 12's code
wrote (`saved/make_fixtures.py`), before the audio front ends and the image backbones
were merged. Expected values are the ones that code computed."""

import io
import json
import os
import zipfile

import h5py
import keras
import numpy as np

import tfmm  # noqa: F401  (registers tfmm's classes)

HERE = os.path.join(os.path.dirname(__file__), "saved")


def test_audio_encoders_saved_before_the_merge_load_and_compute_the_same():
    model = keras.saving.load_model(os.path.join(HERE, "audio_encoders.keras"), safe_mode=True)
    io_ = np.load(os.path.join(HERE, "audio_encoders_io.npz"))
    out = model.predict({"waveform": io_["waveform"], "length": io_["length"]}, verbose=0)
    np.testing.assert_allclose(out["lstm"], io_["lstm"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["cnn"], io_["cnn"], rtol=1e-4, atol=1e-5)


def _weight_paths(model, tmp_path):
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:
        paths = []
        f.visititems(lambda n, o: paths.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(paths)


def test_resnet50_encoder_config_saved_before_the_merge_rebuilds_with_the_same_weights(tmp_path):
    saved = json.load(open(os.path.join(HERE, "resnet50_encoder.json")))
    model = keras.saving.deserialize_keras_object(saved["config"], safe_mode=True)
    assert model.layers[1].__class__.__name__ == "ResNet50Encoder"
    # The weights file of an old .keras is read by these paths: the same set means it loads.
    assert _weight_paths(model, tmp_path) == saved["weight_paths"]
