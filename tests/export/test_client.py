"""The TensorFlow-free ONNX client's preprocessing against tfmm's TensorFlow preprocessing,
tensor by tensor, on real encoded files. (The client on a whole export, in a process where
TensorFlow cannot be imported, is in test_export.py, which has a trained export.)"""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfmm import client
from tfmm.config import InputConfig, TextCNNConfig
from tfmm.data.audio import decode_audio
from tfmm.data.image import decode_image
from tfmm.data.text import TextPreprocessor


def _encoded(shape, fmt, seed=0, mode=None):
    rng = np.random.default_rng(seed)
    # Smooth content plus noise: JPEG's chroma subsampling and DCT both matter.
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = np.sin(yy / 5.0)[..., None] * 60 + np.cos(xx / 7.0)[..., None] * 60 + 128
    pixels = np.clip(base + rng.normal(0, 30, (*shape[:2], 4)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGBA").convert(mode or "RGB")
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


IMAGES = [
    ("JPEG", (37, 53), "RGB"),
    ("JPEG", (600, 800), "RGB"),  # a photo-sized frame, downscaled a lot
    ("JPEG", (48, 40), "L"),  # grayscale JPEG
    ("PNG", (64, 64), "RGBA"),  # alpha is dropped, not composited
    ("PNG", (20, 90), "L"),
    ("PNG", (30, 30), "P"),  # palette
    ("GIF", (30, 41), "P"),
    ("BMP", (17, 23), "RGB"),
]


@pytest.mark.parametrize(
    "fmt,shape,mode", IMAGES, ids=[f"{f}-{m}-{s[0]}x{s[1]}" for f, s, m in IMAGES]
)
@pytest.mark.parametrize(
    "resize,size", [("plain", (32, 32)), ("plain", (24, 40)), ("pad", (32, 32)), ("pad", (96, 72))]
)
def test_image_pixels_equal_tensorflow(fmt, shape, mode, resize, size):
    data = _encoded(shape, fmt, mode=mode)
    want = decode_image(tf.constant(data), size, resize).numpy()
    got = client.image_tensor(data, *size, resize)
    assert got.dtype == np.float32 and got.shape == (*size, 3)
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)


LARGE_JPEGS = [((1200, 1600), "RGB"), ((900, 300), "L"), ((455, 1601), "RGB")]


@pytest.mark.parametrize(
    "shape,mode", LARGE_JPEGS, ids=[f"{m}-{s[0]}x{s[1]}" for s, m in LARGE_JPEGS]
)
@pytest.mark.parametrize(
    "resize,size", [("plain", (32, 32)), ("pad", (96, 72)), ("plain", (224, 224))]
)
def test_reduced_jpeg_decode_equals_tensorflow(shape, mode, resize, size):
    # `jpeg_scale: auto`: both sides decode at libjpeg's reduced DCT scale (Pillow's
    # `draft`), so the pixels agree exactly, as at full size.
    data = _encoded(shape, "JPEG", mode=mode)
    want = decode_image(tf.constant(data), size, resize, jpeg_scale_mode="auto").numpy()
    got = client.image_tensor(data, *size, resize, jpeg_scale_mode="auto")
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)


def test_jpeg_scale_is_the_largest_that_still_covers_the_resized_image():
    assert client.jpeg_scale(1200, 1600, (32, 32)) == 8
    assert client.jpeg_scale(1200, 1600, (224, 224)) == 4  # 300 x 400 >= 224
    assert client.jpeg_scale(447, 1000, (224, 224)) == 1  # 447 // 2 < 224
    assert client.jpeg_scale(448, 1000, (224, 224)) == 2
    # Letterboxed: 1601 wide to 72 makes the content 72 x 20, so 1/8 covers it.
    assert client.jpeg_scale(455, 1601, (96, 72), "pad") == 8
    assert client.jpeg_scale(455, 1601, (96, 72), "plain") == 4  # 455 // 8 < 96


@pytest.mark.parametrize(
    "rate,channels,seconds,resample",
    [
        (16000, 1, 0.4, False),  # short: zero-padded
        (16000, 2, 1.7, False),  # stereo, long: cropped
        (44100, 2, 0.9, True),  # CD audio, resampled
        (8000, 1, 1.3, True),  # upsampled
    ],
)
def test_audio_equals_tensorflow(rate, channels, seconds, resample):
    rng = np.random.default_rng(1)
    samples = rng.uniform(-0.9, 0.9, (int(rate * seconds), channels)).astype("float32")
    data = tf.audio.encode_wav(samples, rate).numpy()
    want, want_len = decode_audio(tf.constant(data), 16000, 16000, resample=resample)
    got, got_len = client.audio_tensors(data, 16000, 16000, resample)
    assert int(got_len) == int(want_len)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-6, rtol=0)


def test_audio_at_another_rate_without_resampling_is_refused_by_name():
    data = tf.audio.encode_wav(np.zeros((800, 1), "float32"), 8000).numpy()
    with pytest.raises(client.ClientError, match=r"input `speech`: WAV sample rate 8000 Hz"):
        client.audio_tensors(data, 16000, 16000, False, name="speech")


@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "lower", "none"])
def test_text_ids_equal_text_vectorization(standardize):
    texts = [
        "Cat dog",
        "HÉLLO cat",
        "Ärger ärger",
        "dog's dogs!",
        "a\u00a0b cat",
        "日本 cat,cat.cat",
        "  CAT\tcat\ncat  ",
        "x",
        "cat " * 20,
    ]
    vocab = ["", "[UNK]", "cat", "héllo", "ärger", "dog's", "a\u00a0b", "日本", "Cat", "CAT"]
    config = InputConfig(
        "t", "text", encoder=TextCNNConfig(sequence_length=8, standardize=standardize)
    )
    config.validate("inputs[0]")
    want = TextPreprocessor(config, vocab)(tf.constant(texts))["t"].numpy()
    got = np.stack([client.text_ids(t, vocab, 8, standardize) for t in texts])
    np.testing.assert_array_equal(got, want)
    # Not vacuous: known tokens, out-of-vocabulary ids and padding all occur.
    assert {0, 1, 2} <= set(got.ravel().tolist())


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty image bytes"),
        (b"\x00garbage", "not a JPEG, PNG, BMP or GIF"),
        (b"\xff\xd8\xff\xe0 truncated", "cannot decode image"),
    ],
)
def test_bad_image_bytes_are_named(data, message):
    with pytest.raises(client.ClientError, match=f"input `photo`: {message}"):
        client.image_tensor(data, 8, 8, name="photo")


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "not a WAV file"),
        (b"RIFF\x00\x00\x00\x00WAVE", "cannot decode WAV"),
    ],
)
def test_bad_wav_bytes_are_named(data, message):
    with pytest.raises(client.ClientError, match=f"input `speech`: {message}"):
        client.audio_tensors(data, 16000, 100, name="speech")


def test_eight_bit_wav_is_refused_by_name():
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(16000)
        w.writeframes(bytes(range(100)))
    with pytest.raises(client.ClientError, match="input `speech`: 8-bit WAV"):
        client.audio_tensors(buf.getvalue(), 16000, 100, name="speech")
