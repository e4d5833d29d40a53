import numpy as np

from tfmm.encoders import LSTMAudioEncoder
from tests.helpers import run_encoder_test


def _enc(**kw):
    kw.setdefault("units", [4])
    return LSTMAudioEncoder(num_samples=4000, num_mel_bins=8, **kw)


def _x(batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "waveform": rng.uniform(-1, 1, (batch, 4000)).astype("float32"),
        "length": np.array([4000, 1600, 0][:batch], "int32"),
    }


def test_lstm_alone(tmp_path):
    run_encoder_test(_enc(), _x(), expected_dim=4, tmp_path=tmp_path)


def test_bidirectional_stack(tmp_path):
    run_encoder_test(
        _enc(units=[3, 5], bidirectional=True), _x(), expected_dim=10, tmp_path=tmp_path
    )


def test_padding_after_length_is_ignored():
    enc = _enc()
    x = _x()
    y = np.asarray(enc(x))
    # Frames start every 160 samples and are 400 long; with length 1600 the last valid
    # frame starts at 1440 and ends at 1840. Anything after that must not matter.
    noisy = {k: v.copy() for k, v in x.items()}
    noisy["waveform"][1, 1840:] = np.random.default_rng(5).uniform(-1, 1, 4000 - 1840)
    noisy["waveform"][2, 400:] = 0.5
    np.testing.assert_allclose(np.asarray(enc(noisy)), y, atol=1e-6)
    # ...while a change inside the valid part does matter.
    changed = {k: v.copy() for k, v in x.items()}
    changed["waveform"][1, :800] = 0.0
    assert np.abs(np.asarray(enc(changed))[1] - y[1]).max() > 1e-4
