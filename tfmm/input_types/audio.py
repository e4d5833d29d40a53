"""Audio inputs: a column of WAV file paths."""

from tfmm.input_types.registry import InputType, decoded_or_missing, register_input_type


@register_input_type
class Audio(InputType):
    name, default_encoder, media = "audio", "cnn", True
    fields = ("sample_rate", "clip_seconds", "resample")

    def features(self, i, pre, raw, text=True):
        wave, length = audio_tensors(i, raw[i.column])
        return {i.name: wave, f"{i.name}_length": length}

    def served_features(self, i, pre, raw):
        import tensorflow as tf

        wave, length = tf.map_fn(
            lambda b: audio_tensors(i, b),
            raw[i.name],
            fn_output_signature=(
                tf.TensorSpec([i.num_samples], tf.float32),
                tf.TensorSpec([], tf.int32),
            ),
        )
        return {i.name: wave, f"{i.name}_length": length}

    def client_spec(self, i, vocabulary):
        return {
            "sample_rate": int(i.sample_rate),
            "num_samples": int(i.num_samples),
            "resample": bool(i.resample),
        }

    def meanings(self, i):
        return {
            i.name: f"float32 [batch, {i.num_samples}]: mono waveform at "
            f"{i.sample_rate} Hz in [-1, 1], zero-padded",
            f"{i.name}_length": "int32 [batch]: valid samples of the waveform",
        }


def audio_tensors(i, value):
    """One clip's (waveform, length) from its bytes (an `audio` input `i`); an optional
    input's empty bytes give (zeros, 0)."""
    import tensorflow as tf

    from tfmm.data.audio import decode_audio

    return decoded_or_missing(
        i,
        value,
        lambda: decode_audio(value, i.sample_rate, i.num_samples, resample=i.resample, name=i.name),
        lambda: (tf.zeros([i.num_samples], tf.float32), tf.constant(0, tf.int32)),
    )
