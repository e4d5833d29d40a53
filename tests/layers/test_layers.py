import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmm.layers.audio
import tfmm.layers.heads
import tfmm.layers.image
from tfmm.layers import CaffePreprocess, FrameMask, Head, LogMelSpectrogram
from tests.helpers import run_serialization_test, run_tf_data_test


def test_mel_matrix_matches_tf_signal():
    ours = tfmm.layers.audio.mel_matrix(16, 257, 16000, 20.0, 7600.0)
    ref = tf.signal.linear_to_mel_weight_matrix(16, 257, 16000, 20.0, 7600.0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_log_mel_matches_a_tf_signal_reference():
    layer = LogMelSpectrogram(
        16000, frame_length=400, frame_step=160, fft_length=512, num_mel_bins=16
    )
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 16000
    wave = np.stack([np.sin(2 * np.pi * 440 * t), rng.uniform(-1, 1, 4000)]).astype("float32")
    ours = np.asarray(layer(wave))
    # STFTSpectrogram uses a symmetric (periodic=False) Hann window.
    window = functools.partial(tf.signal.hann_window, periodic=False)
    stft = tf.signal.stft(wave, 400, 160, 512, window_fn=window, pad_end=False)
    power = tf.abs(stft) ** 2
    mel = tf.matmul(power, tf.signal.linear_to_mel_weight_matrix(16, 257, 16000, 20.0, 8000.0))
    ref = tf.math.log(mel + 1e-6).numpy()
    assert ours.shape == ref.shape == (2, 23, 16)
    # STFTSpectrogram's "psd" mode is the one-sided power spectral density: the power
    # over the window's energy, doubled (every bin but DC and Nyquist, hence the small
    # residual at the band edges). The log-mel therefore differs from the plain power's
    # by log(2 / sum(w^2)), known in advance, over the whole spectrogram.
    offset = np.log(2.0 / np.sum(window(400).numpy().astype("float64") ** 2))
    np.testing.assert_allclose(ours[ref > -5] - offset, ref[ref > -5], atol=5e-3)
    # The 440 Hz tone peaks in the mel band that contains 440 Hz.
    assert ours[0].mean(axis=0).argmax() == ref[0].mean(axis=0).argmax()


def test_log_mel_in_tf_data_batched_and_unbatched():
    layer = LogMelSpectrogram(
        16000, frame_length=400, frame_step=160, fft_length=512, num_mel_bins=8
    )
    x = np.random.default_rng(0).uniform(-1, 1, (4, 2000)).astype("float32")
    run_tf_data_test(layer, x)
    run_serialization_test(layer)


def test_caffe_preprocess_matches_keras_applications():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    expected = keras.applications.resnet.preprocess_input(x.copy())
    np.testing.assert_allclose(np.asarray(CaffePreprocess()(x)), expected, atol=1e-4)
    run_tf_data_test(CaffePreprocess(), x)


def test_frame_mask():
    mask = FrameMask(num_frames=5, frame_step=100)(np.array([0, 1, 100, 101, 450, 10_000]))
    assert np.asarray(mask).astype(int).tolist() == [
        [1, 0, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
    ]
    run_serialization_test(FrameMask(num_frames=5, frame_step=100))


def test_head_keeps_labels_and_float32():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        head = Head("multiclass", 3, labels=["a", "b", "c"])
        y = head(keras.ops.ones((2, 4), "float16"))
        assert y.dtype == "float32"
        np.testing.assert_allclose(np.asarray(y).sum(-1), 1.0, atol=1e-6)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert run_serialization_test(head).labels == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"a binary head of 1 units needs 2 labels"):
        Head("binary", 1, labels=["yes"])
    with pytest.raises(ValueError, match=r"unknown task.*Received: task='ranking'"):
        Head("ranking", 1)


@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_log_mel_front_end_stays_fixed_in_training(encoder, tmp_path):
    # The STFT kernels are the Fourier basis, not parameters: a training step, toggling
    # `trainable` (as the fine-tuning phases do) and a reload must leave them untouched.
    import tfmm
    from tests.helpers import TINY_FUSION, TINY_LSTM, random_inputs, random_targets

    enc = dict(TINY_LSTM)
    if encoder == "cnn":
        del enc["units"]
        enc.update(type="cnn", filters=[4])
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "audio", "type": "audio", "clip_seconds": 0.25, "encoder": enc}],
            "fusion": TINY_FUSION,
            "outputs": [{"name": "label", "type": "multiclass", "labels": ["a", "b"]}],
        }
    )
    model = tfmm.build_model(config)
    stft = [w for w in model.weights if "stft" in w.path]
    assert len(stft) == 2 and not any(w.trainable for w in stft)
    before = [np.array(w) for w in stft]
    model.trainable = False
    model.trainable = True
    assert not any("stft" in w.path for w in model.trainable_weights)
    assert any("stft" in w.path for w in model.non_trainable_weights)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="sparse_categorical_crossentropy")
    x, y = random_inputs(model), random_targets(config)
    model.train_on_batch(x, y)
    for w, b in zip(stft, before):
        np.testing.assert_array_equal(np.array(w), b)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert not any("stft" in w.path for w in reloaded.trainable_weights)
