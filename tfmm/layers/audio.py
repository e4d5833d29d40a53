"""Audio front end: log-mel spectrogram and frame masks, as ONNX-convertible layers.

The front end lives in the model, not in the data pipeline: the model (and every export
of it) takes float waveforms, and the same code runs on the accelerator. It uses
`keras.layers.STFTSpectrogram(mode="psd")` followed by a constant mel matrix and a log,
which tf2onnx converts; `keras.layers.MelSpectrogram` (RFFT) does not.
"""

import keras
import numpy as np


def mel_matrix(num_mel_bins, num_spectrogram_bins, sample_rate, lower_edge_hertz, upper_edge_hertz):
    """HTK mel filterbank, [num_spectrogram_bins, num_mel_bins], as numpy float32.

    Same formula as `tf.signal.linear_to_mel_weight_matrix`, computed once in numpy so
    that the graph holds a constant.
    """

    def hz_to_mel(f):
        return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)

    nyquist = sample_rate / 2.0
    upper = nyquist if upper_edge_hertz is None else upper_edge_hertz
    if not 0.0 <= lower_edge_hertz < upper <= nyquist:
        raise ValueError(
            f"mel range must satisfy 0 <= lower < upper <= sample_rate/2 = "
            f"{nyquist}. Received: lower_edge_hertz={lower_edge_hertz}, "
            f"upper_edge_hertz={upper_edge_hertz}"
        )
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

    def __init__(
        self,
        sample_rate=16000,
        frame_length=400,
        frame_step=160,
        fft_length=512,
        num_mel_bins=64,
        lower_edge_hertz=20.0,
        upper_edge_hertz=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.num_mel_bins = num_mel_bins
        self.lower_edge_hertz = lower_edge_hertz
        self.upper_edge_hertz = upper_edge_hertz
        self.stft = keras.layers.STFTSpectrogram(
            mode="psd",
            frame_length=frame_length,
            frame_step=frame_step,
            fft_length=fft_length,
            window="hann",
            padding="valid",
            name="stft",
            dtype="float32",
            trainable=False,
        )
        self._mel = mel_matrix(
            num_mel_bins, fft_length // 2 + 1, sample_rate, lower_edge_hertz, upper_edge_hertz
        )

    # The STFT kernels are the fixed Fourier basis times the window, not parameters:
    # trained (Keras's default for STFTSpectrogram), Adam moves every one of them by about
    # the learning rate per step and scrambles the spectrum early in training. Setting
    # `trainable` on an enclosing layer or model (fine-tuning phases, reloading) must not
    # turn them on again.
    @property
    def trainable(self):
        return keras.layers.Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        keras.layers.Layer.trainable.fset(self, value)
        if "stft" in self.__dict__:
            self.stft.trainable = False

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
        config.update(
            {
                k: getattr(self, k)
                for k in (
                    "sample_rate",
                    "frame_length",
                    "frame_step",
                    "fft_length",
                    "num_mel_bins",
                    "lower_edge_hertz",
                    "upper_edge_hertz",
                )
            }
        )
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


@keras.saving.register_keras_serializable(package="tfmm")
class MaskedNormalize(keras.layers.Layer):
    """Per-clip normalisation of log-mel frames over the valid frames only.

    Each clip's log-mel values are shifted and scaled by their own mean and standard
    deviation over its valid frames and all mel bins (the gain and the recording level
    go; the spectral shape stays), and the padded frames are set to 0. Padding
    (log(1e-6) ≈ -13.8 per bin) never reaches the statistics, so a short clip is
    normalised like a long one. (A per-frame LayerNorm over the mel bins instead scales
    silence and noise frames up to the level of the signal.)

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0, 3.0], [1.0, 3.0], [-13.8, -13.8]]], "float32")
    >>> (MaskedNormalize()(x, np.array([[True, True, False]])).numpy().round(3) + 0.0).tolist()
    [[[-1.0, 1.0], [-1.0, 1.0], [0.0, 0.0]]]
    """

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, x, mask):
        m = keras.ops.expand_dims(keras.ops.cast(mask, x.dtype), -1)
        count = keras.ops.maximum(keras.ops.sum(m, axis=(1, 2)) * x.shape[-1], 1.0)
        mean = keras.ops.sum(x * m, axis=(1, 2)) / count
        mean = keras.ops.reshape(mean, (-1, 1, 1))
        var = keras.ops.sum(keras.ops.square(x - mean) * m, axis=(1, 2)) / count
        std = keras.ops.sqrt(keras.ops.reshape(var, (-1, 1, 1)) + self.epsilon)
        return (x - mean) / std * m

    def compute_output_shape(self, x_shape, mask_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class DownsampleMask(keras.layers.Layer):
    """A [batch, frames] mask for a sequence pooled in time by `stride` ("same"
    padding): a pooled step is valid when its first frame is.

    Example:

    >>> import numpy as np
    >>> DownsampleMask(2)(np.array([[True, True, True, False, False]])).numpy().tolist()
    [[True, True, False]]
    """

    def __init__(self, stride, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, mask):
        return mask[:, :: self.stride]

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else -(-n // self.stride))

    def compute_output_spec(self, mask):
        n = mask.shape[1]
        return keras.KerasTensor(
            (mask.shape[0], None if n is None else -(-n // self.stride)), dtype="bool"
        )

    def get_config(self):
        config = super().get_config()
        config["stride"] = self.stride
        return config


@keras.saving.register_keras_serializable(package="tfmm")
class MaskedMeanMaxPooling(keras.layers.Layer):
    """[batch, steps, dim] and a [batch, steps] mask -> [batch, 2 * dim]: the mean and
    the maximum over the valid steps, concatenated. The maximum keeps a short event in a
    long clip from being averaged away; a row with no valid step pools to zeros.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]], "float32")
    >>> MaskedMeanMaxPooling()(x, np.array([[True, True, False]])).numpy().tolist()
    [[2.0, 3.0]]
    """

    def call(self, x, mask):
        m = keras.ops.expand_dims(keras.ops.cast(mask, x.dtype), -1)
        count = keras.ops.maximum(keras.ops.sum(m, axis=1), 1.0)
        mean = keras.ops.sum(x * m, axis=1) / count
        low = keras.ops.min(x, axis=1, keepdims=True) - 1.0
        peak = keras.ops.max(x * m + low * (1.0 - m), axis=1)
        peak = peak * keras.ops.cast(keras.ops.sum(m, axis=1) > 0, x.dtype)
        return keras.ops.concatenate([mean, peak], axis=-1)

    def compute_output_shape(self, x_shape, mask_shape=None):
        return (x_shape[0], 2 * x_shape[-1])


@keras.saving.register_keras_serializable(package="tfmm")
class ValidFrames(keras.layers.Layer):
    """A numeric frame mask [batch, frames] (1 valid, 0 padding, as an encoder returns
    it) -> boolean, with the first frame always valid (as `FrameMask`), so a row of
    padding still pools and attends to something defined.

    Example:

    >>> import numpy as np
    >>> ValidFrames()(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])).numpy().tolist()
    [[True, True, False], [True, False, False]]
    """

    def call(self, mask):
        valid = keras.ops.greater(keras.ops.cast(mask, "float32"), 0.5)
        first = keras.ops.equal(keras.ops.arange(keras.ops.shape(mask)[1], dtype="int32"), 0)
        return keras.ops.logical_or(valid, keras.ops.expand_dims(first, 0))

    def compute_output_spec(self, mask):
        return keras.KerasTensor(mask.shape, dtype="bool")
