"""Audio front end: log-mel spectrogram and frame masks, as ONNX-convertible layers.

The front end lives in the model, not in the data pipeline: the model (and every export
of it) takes float waveforms, and the same code runs on the accelerator. It uses
`keras.layers.STFTSpectrogram(mode="psd")` followed by a constant mel matrix and a log,
which tf2onnx converts; `keras.layers.MelSpectrogram` (RFFT) does not.
"""

import keras
import numpy as np


def mel_matrix(num_mel_bins, num_spectrogram_bins, sample_rate, lower_edge_hertz,
               upper_edge_hertz):
    """HTK mel filterbank, [num_spectrogram_bins, num_mel_bins], as numpy float32.

    Same formula as `tf.signal.linear_to_mel_weight_matrix`, computed once in numpy so
    that the graph holds a constant.
    """
    def hz_to_mel(f):
        return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)

    nyquist = sample_rate / 2.0
    upper = nyquist if upper_edge_hertz is None else upper_edge_hertz
    if not 0.0 <= lower_edge_hertz < upper <= nyquist:
        raise ValueError(f"mel range must satisfy 0 <= lower < upper <= sample_rate/2 = "
                         f"{nyquist}. Received: lower_edge_hertz={lower_edge_hertz}, "
                         f"upper_edge_hertz={upper_edge_hertz}")
    # Skip the DC bin, as tf.signal does.
    freqs = np.linspace(0.0, nyquist, num_spectrogram_bins)[1:]
    spec_mel = hz_to_mel(freqs)[:, None]
    edges = np.linspace(hz_to_mel(lower_edge_hertz), hz_to_mel(upper), num_mel_bins + 2)
    lower, center, upper_e = edges[:-2], edges[1:-1], edges[2:]
    lower_slopes = (spec_mel - lower) / (center - lower)
    upper_slopes = (upper_e - spec_mel) / (upper_e - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [[1, 0], [0, 0]]).astype("float32")


@keras.saving.register_keras_serializable(package="tfmm")
class LogMelSpectrogram(keras.layers.Layer):
    """Float waveforms [batch, samples] -> log-mel frames [batch, frames, num_mel_bins].

    Args:
        sample_rate: int. Hz of the waveform.
        frame_length: int. Samples per STFT frame (400 = 25 ms at 16 kHz).
        frame_step: int. Hop in samples (160 = 10 ms at 16 kHz).
        fft_length: int. FFT size, >= frame_length.
        num_mel_bins: int. Mel bands.
        lower_edge_hertz, upper_edge_hertz: float. Mel range (upper None = Nyquist).

    Example:

    >>> import numpy as np
    >>> layer = LogMelSpectrogram(16000, frame_length=400, frame_step=160,
    ...                           fft_length=512, num_mel_bins=8)
    >>> tuple(layer(np.zeros((2, 4000), "float32")).shape)
    (2, 23, 8)
    """

    def __init__(self, sample_rate=16000, frame_length=400, frame_step=160, fft_length=512,
                 num_mel_bins=64, lower_edge_hertz=20.0, upper_edge_hertz=None, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.num_mel_bins = num_mel_bins
        self.lower_edge_hertz = lower_edge_hertz
        self.upper_edge_hertz = upper_edge_hertz
        self.stft = keras.layers.STFTSpectrogram(
            mode="psd", frame_length=frame_length, frame_step=frame_step,
            fft_length=fft_length, window="hann", padding="valid", name="stft",
            dtype="float32")
        self._mel = mel_matrix(num_mel_bins, fft_length // 2 + 1, sample_rate,
                               lower_edge_hertz, upper_edge_hertz)

    def num_frames(self, num_samples):
        return 1 + (num_samples - self.frame_length) // self.frame_step

    def build(self, input_shape):
        self.stft.build((input_shape[0], input_shape[1], 1))

    def call(self, waveform):
        x = keras.ops.expand_dims(keras.ops.cast(waveform, "float32"), -1)
        power = self.stft(x)
        mel = keras.ops.matmul(power, keras.ops.convert_to_tensor(self._mel))
        return keras.ops.log(mel + 1e-6)

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else self.num_frames(input_shape[1])
        return (input_shape[0], frames, self.num_mel_bins)

    def get_config(self):
        config = super().get_config()
        config.update({k: getattr(self, k) for k in (
            "sample_rate", "frame_length", "frame_step", "fft_length", "num_mel_bins",
            "lower_edge_hertz", "upper_edge_hertz")})
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class FrameMask(keras.layers.Layer):
    """Valid-sample counts [batch] -> boolean frame mask [batch, num_frames].

    A frame is valid when it starts inside the valid part of the clip. The first frame is
    always valid, so a zero-length (all padding) row still yields a defined output.

    Args:
        num_frames: int. Frames per clip (static).
        frame_step: int. Hop in samples.

    Example:

    >>> import numpy as np
    >>> FrameMask(num_frames=4, frame_step=10)(np.array([25, 0])).numpy().tolist()
    [[True, True, True, False], [True, False, False, False]]
    """

    def __init__(self, num_frames, frame_step, **kwargs):
        super().__init__(**kwargs)
        self.num_frames = num_frames
        self.frame_step = frame_step

    def call(self, lengths):
        lengths = keras.ops.reshape(keras.ops.cast(lengths, "int32"), (-1, 1))
        starts = keras.ops.arange(self.num_frames, dtype="int32") * self.frame_step
        valid = keras.ops.less(keras.ops.expand_dims(starts, 0), lengths)
        first = keras.ops.equal(keras.ops.arange(self.num_frames, dtype="int32"), 0)
        return keras.ops.logical_or(valid, keras.ops.expand_dims(first, 0))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_frames)

    def compute_output_spec(self, lengths):
        return keras.KerasTensor((lengths.shape[0], self.num_frames), dtype="bool")

    def get_config(self):
        config = super().get_config()
        config.update({"num_frames": self.num_frames, "frame_step": self.frame_step})
        return config
