"""Writes the saved-by-session-12 fixtures (run once, before the encoder merges)."""
import json, zipfile, io, sys
import numpy as np, keras, h5py
import tfmm
from tfmm.encoders import ResNet50Encoder, LSTMAudioEncoder, AudioCNNEncoder
out = sys.argv[1]
keras.utils.set_random_seed(0)
w = keras.Input((1000,), name="waveform"); l = keras.Input((), dtype="int32", name="length")
lstm = LSTMAudioEncoder(num_samples=1000, num_mel_bins=8, frame_length=64, frame_step=32, fft_length=64, sample_rate=8000, units=[6], name="clip_encoder")
cnn = AudioCNNEncoder(num_samples=1000, num_mel_bins=8, frame_length=64, frame_step=32, fft_length=64, sample_rate=8000, filters=[4, 8], name="clip2_encoder")
inp = {"waveform": w, "length": l}
m = keras.Model(inp, {"lstm": lstm(inp), "cnn": cnn(inp)})
rng = np.random.default_rng(0)
x = {"waveform": rng.normal(size=(2, 1000)).astype("float32"), "length": np.array([1000, 300], "int32")}
y = m.predict(x, verbose=0)
m.save(f"{out}/audio_encoders.keras")
np.savez(f"{out}/audio_encoders_io.npz", waveform=x["waveform"], length=x["length"], lstm=y["lstm"], cnn=y["cnn"])
px = keras.Input((32, 32, 3), name="pixels")
r = ResNet50Encoder(image_size=[32, 32], name="image_encoder")
rm = keras.Model(px, r(px))
rm.save("/tmp/resnet.keras")
with zipfile.ZipFile("/tmp/resnet.keras") as z:
    cfg = json.loads(z.read("config.json"))
    h5 = z.read("model.weights.h5")
paths = []
with h5py.File(io.BytesIO(h5)) as f:
    f.visititems(lambda n, o: paths.append(n) if isinstance(o, h5py.Dataset) else None)
json.dump({"config": cfg, "weight_paths": sorted(paths)}, open(f"{out}/resnet50_encoder.json", "w"), indent=0)
print(len(paths), paths[:3])
