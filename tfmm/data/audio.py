"""Audio: WAV bytes -> mono float32 waveform of a fixed length plus its valid length."""

import struct

import tensorflow as tf

from tfmm.data.errors import read_for_diagnosis


def decode_audio(data, sample_rate, num_samples, resample=False, name="audio"):
    """Decodes 16-bit PCM WAV bytes, mixes to mono, resamples or refuses, crops or pads.

    The bytes are checked to be RIFF/WAVE before decoding, so garbage gives an
    InvalidArgumentError naming the input. A tensor that is already decoded (int16 or
    float samples, as TFDS gives) skips the WAV decoding and is taken at `sample_rate`.

    Args:
        data: scalar string tensor of WAV bytes, or a decoded [samples] /
            [samples, channels] tensor.
        sample_rate: int. Hz the model expects.
        num_samples: int. Output length; longer clips are cropped (from the start),
            shorter ones zero-padded.
        resample: bool. Linearly resample other rates; if False they are refused.
        name: str. Input name for error messages.

    Returns:
        (waveform float32 [num_samples], length int32 scalar = valid samples).

    Example:

    >>> import numpy as np
    >>> wav = tf.audio.encode_wav(np.zeros((100, 2), "float32"), 16000)
    >>> w, n = decode_audio(wav, 16000, 160)
    >>> (tuple(w.shape), int(n))
    ((160,), 100)
    """
    if data.dtype == tf.string:
        # Padded, so bytes shorter than a header fail the check instead of `substr`.
        head = tf.strings.join([data, b"\0" * 36])
        is_wav = tf.logical_and(
            tf.equal(tf.strings.substr(head, 0, 4), "RIFF"),
            tf.equal(tf.strings.substr(head, 8, 4), "WAVE"),
        )
        # Bits per sample, where the fmt chunk comes first (as nearly every writer puts
        # it); decode_wav's own "Can only read 16-bit WAV files" names no input.
        bits = tf.io.decode_raw(tf.strings.substr(head, 34, 2), tf.uint16)[0]
        is_16_bit = tf.logical_or(
            tf.not_equal(tf.strings.substr(head, 12, 4), "fmt "), tf.equal(bits, 16)
        )
        with tf.control_dependencies(
            [tf.debugging.Assert(is_wav, [f"input `{name}`: not a WAV file (no RIFF/WAVE header)"])]
        ):
            check_bits = tf.debugging.Assert(
                is_16_bit,
                [
                    f"input `{name}`: WAV samples are not 16-bit PCM (convert the clip to "
                    f"16-bit, e.g. sox in.wav -b 16 out.wav)"
                ],
            )
        with tf.control_dependencies([check_bits]):
            decoded = tf.audio.decode_wav(data, name=f"decode_{name}")
        samples, rate = decoded.audio, decoded.sample_rate
        wave = tf.reduce_mean(samples, axis=-1)
    else:
        samples = tf.cast(data, tf.float32)
        if data.dtype == tf.int16:
            samples = samples / 32768.0
        wave = samples if samples.shape.rank == 1 else tf.reduce_mean(samples, axis=-1)
        rate = tf.constant(sample_rate, tf.int32)
    tf.debugging.assert_greater(tf.size(wave), 0, message=f"input `{name}`: 0-length audio clip")
    if resample:
        tf.debugging.assert_positive(rate, message=f"input `{name}`: WAV header says 0 Hz")
        wave = _resample_linear(wave, rate, sample_rate)
    else:
        tf.debugging.assert_equal(
            rate,
            sample_rate,
            message=f"input `{name}`: WAV sample rate differs from the configured "
            f"{sample_rate} Hz (set resample: true to resample)",
        )
    wave = wave[:num_samples]
    length = tf.shape(wave)[0]
    wave = tf.pad(wave, [[0, num_samples - length]])
    wave.set_shape([num_samples])
    return wave, tf.cast(length, tf.int32)


def _resample_linear(wave, rate, target):
    """Linear-interpolation resampling from `rate` (tensor) to `target` Hz."""
    rate_f = tf.cast(rate, tf.float64)
    n = tf.shape(wave)[0]
    new_n = tf.maximum(
        tf.cast(tf.math.floor(tf.cast(n, tf.float64) * target / rate_f), tf.int32), 1
    )
    pos = tf.cast(tf.range(new_n), tf.float64) * rate_f / target
    lo = tf.minimum(tf.cast(tf.floor(pos), tf.int32), n - 1)
    hi = tf.minimum(lo + 1, n - 1)
    frac = tf.cast(pos - tf.floor(pos), tf.float32)
    out = tf.gather(wave, lo) * (1.0 - frac) + tf.gather(wave, hi) * frac
    return tf.cond(tf.equal(rate, target), lambda: wave, lambda: out)


def wav_header(data: bytes):
    """(sample_rate, channels, bits, data_bytes) from a RIFF/WAVE header, or None."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, fmt, data_len = 12, None, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk == b"fmt " and pos + 24 <= len(data):
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
            fmt = (rate, channels, bits)
        if chunk == b"data":
            data_len = size
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        return None
    return (*fmt, data_len)


def diagnose_audio(path, sample_rate, resample=False):
    """Why the file is not a usable clip, or None if it is. Eager; for reports."""
    data, reason = read_for_diagnosis(path)
    if reason is not None:
        return reason, path
    header = wav_header(data)
    if header is None:
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            return "truncated WAV (the header ends before its format chunk)", path
        return "not a WAV file (unrecognised first bytes); expected 16-bit PCM WAV", path
    rate, channels, bits, data_len = header
    if rate == 0:
        return "WAV header says 0 Hz (a broken header)", path
    if bits != 16:
        return f"unsupported WAV: {bits}-bit samples; expected 16-bit PCM", path
    try:
        decoded = tf.audio.decode_wav(data)
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
        return "cannot decode WAV (truncated or corrupt)", path
    if int(tf.size(decoded.audio)) == 0:
        return "0-length audio clip", path
    if rate != sample_rate and not resample:
        return (
            f"sample rate {rate} Hz differs from the configured {sample_rate} Hz "
            f"(refused; set resample: true to resample)"
        ), path
    return None, path
