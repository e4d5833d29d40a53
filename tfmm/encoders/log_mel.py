"""The log-mel front end that tfmm's own audio encoders (`lstm`, `cnn`) put inside the
model: its config keys (`LogMelSpec`, a base for their config dataclasses) and its layers
(`log_mel_front_end`), declared once."""

from dataclasses import dataclass
from typing import Optional

from tfmm.encoders.registry import EncoderSpec
from tfmm.schema import ConfigError, positive

#: The front end's constructor arguments, as the encoders take and `get_config` saves them.
FRONT_END_ARGS = (
    "sample_rate",
    "frame_length",
    "frame_step",
    "fft_length",
    "num_mel_bins",
    "lower_edge_hertz",
    "upper_edge_hertz",
)


@dataclass(frozen=True)
class LogMelSpec(EncoderSpec):
    """Front-end keys of an encoder that reads audio as log-mel frames.

    Args:
        frame_length: int. Samples per STFT frame (400 = 25 ms at 16 kHz).
        frame_step: int. Samples between frames.
        fft_length: int. FFT size (>= frame_length).
        num_mel_bins: int. Mel bands.
        lower_edge_hertz, upper_edge_hertz: the mel filter bank's range (null upper edge:
            the Nyquist frequency).
    """

    augments_spectrogram = True

    frame_length: int = 400
    frame_step: int = 160
    fft_length: int = 512
    num_mel_bins: int = 64
    lower_edge_hertz: float = 20.0
    upper_edge_hertz: Optional[float] = None

    def validate(self, path):
        positive(self, path, "frame_length", "frame_step", "fft_length", "num_mel_bins")
        if self.fft_length < self.frame_length:
            raise ConfigError(
                f"{path}.fft_length: must be >= frame_length="
                f"{self.frame_length}. Received: fft_length={self.fft_length}"
            )

    def front_end_args(self, input_config):
        """The `FRONT_END_ARGS` for an audio input: its sample rate and these keys."""
        return {
            "sample_rate": input_config.sample_rate,
            **{k: getattr(self, k) for k in FRONT_END_ARGS[1:]},
        }


def log_mel_front_end(
    num_samples,
    sample_rate,
    frame_length,
    frame_step,
    fft_length,
    num_mel_bins,
    lower_edge_hertz,
    upper_edge_hertz,
):
    """(`LogMelSpectrogram` named "log_mel", `FrameMask` named "frame_mask", frames per
    clip) for clips of `num_samples`. The spectrogram stays float32 under mixed precision:
    log power spans many orders of magnitude."""
    from tfmm.layers.audio import FrameMask, LogMelSpectrogram

    front_end = LogMelSpectrogram(
        sample_rate=sample_rate,
        frame_length=frame_length,
        frame_step=frame_step,
        fft_length=fft_length,
        num_mel_bins=num_mel_bins,
        lower_edge_hertz=lower_edge_hertz,
        upper_edge_hertz=upper_edge_hertz,
        dtype="float32",
        name="log_mel",
    )
    num_frames = front_end.num_frames(num_samples)
    return (
        front_end,
        FrameMask(num_frames=num_frames, frame_step=frame_step, name="frame_mask"),
        num_frames,
    )
