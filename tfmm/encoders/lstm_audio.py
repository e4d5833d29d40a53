"""Audio encoder: log-mel front end, frame masking, stacked (bi)LSTMs."""

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, Optional

import keras

from tfmm.encoders.base import Encoder
from tfmm.encoders.log_mel import FRONT_END_ARGS, LogMelSpec, log_mel_front_end
from tfmm.encoders.registry import encoder_name, register_encoder
from tfmm.schema import ConfigError, unit_interval
from tfmm.layers.augment import SpecAugment


@keras.saving.register_keras_serializable(package="tfmm")
class LSTMAudioEncoder(Encoder):
    """Waveforms [batch, num_samples] plus valid lengths [batch] -> [batch, units[-1]].

    The log-mel front end is part of the model (see `tfmm.layers.audio` for why). Frames
    that start in the zero padding after a clip's `length` are masked, so the LSTMs skip
    them and the last valid state is the output.

    Args:
        num_samples: int. Samples per (padded) clip.
        sample_rate: int. Hz.
        frame_length, frame_step, fft_length, num_mel_bins, lower_edge_hertz,
            upper_edge_hertz: front-end settings (`LogMelSpectrogram`).
        units: list of int. One LSTM layer per entry; the last returns its final state.
        bidirectional: bool. Wrap each LSTM in `Bidirectional` (output width doubles).
        dropout: float. Dropout on each LSTM's inputs.
        use_cudnn: "auto" or bool. Passed to the LSTMs; exports rebuild with False.
        augment: bool. SpecAugment masks on the normalised log-mel frames in training.
        return_sequence: bool. Output the last LSTM's per-frame states with the frame mask
            ({"sequence": [batch, frames, units[-1]], "mask"}) instead of the final state.

    Example:

    >>> import numpy as np
    >>> enc = LSTMAudioEncoder(num_samples=4000, num_mel_bins=8, units=[6])
    >>> tuple(enc({"waveform": np.zeros((2, 4000), "float32"),
    ...            "length": np.array([4000, 100])}).shape)
    (2, 6)
    """

    primary_input = "waveform"

    def __init__(
        self,
        num_samples,
        sample_rate=16000,
        frame_length=400,
        frame_step=160,
        fft_length=512,
        num_mel_bins=64,
        lower_edge_hertz=20.0,
        upper_edge_hertz=None,
        units=(128,),
        bidirectional=False,
        dropout=0.0,
        use_cudnn="auto",
        augment=False,
        return_sequence=False,
        **kwargs,
    ):
        # === Layers ===
        spec_augment = SpecAugment(name="spec_augment") if augment else None
        front_end, frame_mask, _ = log_mel_front_end(
            num_samples,
            sample_rate,
            frame_length,
            frame_step,
            fft_length,
            num_mel_bins,
            lower_edge_hertz,
            upper_edge_hertz,
        )
        norm = keras.layers.LayerNormalization(name="mel_norm")
        rnns = []
        for i, u in enumerate(units):
            last = i == len(units) - 1
            rnn = keras.layers.LSTM(
                u,
                return_sequences=return_sequence or not last,
                dropout=dropout,
                use_cudnn=use_cudnn,
                name=f"lstm_{i}",
            )
            if bidirectional:
                rnn = keras.layers.Bidirectional(rnn, name=f"bilstm_{i}")
            rnns.append(rnn)

        # === Functional Model ===
        waveform = keras.Input((num_samples,), dtype="float32", name="waveform")
        length = keras.Input((), dtype="int32", name="length")
        mask = frame_mask(length)
        x = norm(front_end(waveform))
        if spec_augment is not None:
            x = spec_augment(x)
        for rnn in rnns:
            x = rnn(x, mask=mask)
        if return_sequence:
            x = {"sequence": x, "mask": keras.layers.Identity(name="mask")(mask)}
        super().__init__(inputs={"waveform": waveform, "length": length}, outputs=x, **kwargs)

        # === Config ===
        self.num_samples = num_samples
        for k, v in zip(
            FRONT_END_ARGS,
            (
                sample_rate,
                frame_length,
                frame_step,
                fft_length,
                num_mel_bins,
                lower_edge_hertz,
                upper_edge_hertz,
            ),
        ):
            setattr(self, k, v)
        self.units = list(units)
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.use_cudnn = use_cudnn
        self.augment = augment
        self.return_sequence = return_sequence

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                k: getattr(self, k)
                for k in (
                    "num_samples",
                    *FRONT_END_ARGS,
                    "units",
                    "bidirectional",
                    "dropout",
                    "use_cudnn",
                    "augment",
                    "return_sequence",
                )
            }
        )
        return config


@dataclass(frozen=True)
class LSTMAudioConfig(LogMelSpec):
    """Log-mel spectrogram front end (in the model; `LogMelSpec`) followed by LSTM
    layers."""

    tflite_refusal = (
        "its recurrent loop over a dynamic batch is not a TFLite builtin; "
        "use encoder type cnn for audio"
    )

    type: Literal["lstm"] = "lstm"
    # One LSTM layer per entry, with that many units; the last one's final valid state is the
    # vector.
    units: list[int] = field(default_factory=lambda: [128])
    # Run each LSTM layer in both directions.
    bidirectional: bool = False
    # Dropout between LSTM layers.
    dropout: float = 0.0
    # cuDNN LSTM kernels: null = when on a GPU (Keras's "auto"), true, false. Exports
    # always rebuild with false (cuDNN kernels convert to neither ONNX nor a CPU server).
    use_cudnn: Optional[bool] = None

    def validate(self, path):
        super().validate(path)
        if not self.units or any(u <= 0 for u in self.units):
            raise ConfigError(
                f"{path}.units: must be a non-empty list of positive ints. "
                f"Received: units={self.units}"
            )
        unit_interval(self, path, "dropout")

    def for_export(self):
        # cuDNN kernels convert to neither ONNX nor a CPU server.
        return dataclasses.replace(self, use_cudnn=False)


@register_encoder("lstm", config=LSTMAudioConfig, modalities=("audio",))
def build_lstm_audio(input_config, vocabulary=None, return_sequence=False):
    cfg = input_config.encoder
    return LSTMAudioEncoder(
        num_samples=input_config.num_samples,
        **cfg.front_end_args(input_config),
        units=cfg.units,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        use_cudnn="auto" if cfg.use_cudnn is None else cfg.use_cudnn,
        augment=input_config.augment,
        return_sequence=return_sequence,
        name=encoder_name(input_config),
    )
