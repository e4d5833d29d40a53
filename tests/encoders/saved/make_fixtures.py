"""Writes the saved-by-session-12 fixtures of test_saved_compat.py (run once, before the
audio front ends and the image backbones were merged):

    python tests/encoders/saved/make_fixtures.py tests/encoders/saved
"""

import io
import json
import sys
import zipfile

import h5py
import keras
import numpy as np

from tfmm.encoders import AudioCNNEncoder, LSTMAudioEncoder, ResNet50Encoder

out = sys.argv[1]
keras.utils.set_random_seed(0)
front = dict(
    num_samples=1000,
    num_mel_bins=8,
    frame_length=64,
    frame_step=32,
    fft_length=64,
    sample_rate=8000,
)
wave = keras.Input((1000,), name="waveform")
length = keras.Input((), dtype="int32", name="length")
inputs = {"waveform": wave, "length": length}
lstm = LSTMAudioEncoder(**front, units=[6], name="clip_encoder")
cnn = AudioCNNEncoder(**front, filters=[4, 8], name="clip2_encoder")
model = keras.Model(inputs, {"lstm": lstm(inputs), "cnn": cnn(inputs)})
rng = np.random.default_rng(0)
x = {
    "waveform": rng.normal(size=(2, 1000)).astype("float32"),
    "length": np.array([1000, 300], "int32"),
}
y = model.predict(x, verbose=0)
model.save(f"{out}/audio_encoders.keras")
np.savez(
    f"{out}/audio_encoders_io.npz",
    waveform=x["waveform"],
    length=x["length"],
    lstm=y["lstm"],
    cnn=y["cnn"],
)
pixels = keras.Input((32, 32, 3), name="pixels")
resnet = keras.Model(pixels, ResNet50Encoder(image_size=[32, 32], name="image_encoder")(pixels))
resnet.save("/tmp/resnet.keras")
with zipfile.ZipFile("/tmp/resnet.keras") as z:
    config = json.loads(z.read("config.json"))
    weights = z.read("model.weights.h5")
paths = []
with h5py.File(io.BytesIO(weights)) as f:
    f.visititems(lambda n, o: paths.append(n) if isinstance(o, h5py.Dataset) else None)
with open(f"{out}/resnet50_encoder.json", "w") as f:
    json.dump({"config": config, "weight_paths": sorted(paths)}, f, indent=0)
