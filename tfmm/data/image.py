"""Images: encoded bytes -> float32 RGB [h, w, 3] in [0, 255], all in TensorFlow ops."""

import numpy as np
import tensorflow as tf

from tfmm.data.errors import read_for_diagnosis

_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP"}


def sniff_image_format(data: bytes):
    """'JPEG', 'PNG', 'GIF', 'BMP' or None, from the first bytes."""
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    return None


JPEG_SCALES = (1, 2, 4, 8)


def jpeg_scale(height, width, size, resize="plain"):
    """The largest libjpeg DCT scale (1, 2, 4 or 8) at which a `height` x `width` JPEG
    still covers what `resize` makes of it at `size`: the decoded image
    (ceil(height / s) x ceil(width / s)) is never smaller than the resized one, so the
    final resize only shrinks. Pillow's `Image.draft` picks the same scale for the same
    request (`tfmm.client` relies on it). Works on Python ints and on int32 tensors.

    >>> jpeg_scale(3000, 4000, (224, 224))
    8
    >>> jpeg_scale(480, 640, (224, 224))
    2
    """
    th, tw = size
    if resize == "pad":
        # tf.image.resize_with_pad's resized content: floor(h / r) x floor(w / r).
        if isinstance(height, int):
            f32 = np.float32
            r = max(f32(width) / f32(tw), f32(height) / f32(th))
            th, tw = int(np.floor(f32(height) / r)), int(np.floor(f32(width) / r))
        else:
            hf, wf = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
            r = tf.maximum(wf / tw, hf / th)
            th, tw = tf.cast(hf / r, tf.int32), tf.cast(wf / r, tf.int32)
    if isinstance(height, int):
        return max(s for s in JPEG_SCALES if height // s >= th and width // s >= tw or s == 1)
    fits = [tf.logical_and(height // s >= th, width // s >= tw) for s in JPEG_SCALES[1:]]
    # The conditions are nested (a scale that fits implies every smaller one fits), so
    # their count is the index of the largest scale that fits.
    return tf.add_n([tf.cast(f, tf.int32) for f in fits])


def decode_image(data, size, resize="plain", name="image", jpeg_scale_mode="full"):
    """Decodes JPEG/PNG/BMP/GIF (first frame) bytes and resizes them.

    JPEG is decoded with the accurate integer DCT (`dct_method="INTEGER_ACCURATE"`), as
    libjpeg and Pillow decode it. With `jpeg_scale_mode="auto"`, a JPEG at least twice
    the size it is resized to is decoded straight to 1/2, 1/4 or 1/8 of its size
    (libjpeg's DCT scaling; `jpeg_scale`), which costs a fraction of a full decode, and
    then resized: each decoded pixel is the mean of its 2x2 ... 8x8 block, so the result
    is, if anything, less aliased than a full decode resized without antialiasing.

    Grayscale and RGBA become RGB. Undecodable bytes raise InvalidArgumentError whose
    message names the input. A tensor that is already decoded (uint8/float [h, w, c], as
    TFDS gives) is only converted and resized.

    Args:
        data: scalar string tensor of encoded bytes, or a decoded image tensor.
        size: (height, width).
        resize: "plain" (stretch to size) or "pad" (keep aspect ratio, zero-pad).
        name: str. Input name for error messages.
        jpeg_scale_mode: "full" or "auto" (the image input's `jpeg_scale`).

    Returns:
        float32 [height, width, 3] in [0, 255].

    Example:

    >>> import numpy as np
    >>> png = tf.io.encode_png(np.zeros((5, 9, 1), "uint8"))
    >>> tuple(decode_image(png, (4, 4), resize="pad").shape)
    (4, 4, 3)
    """
    if data.dtype == tf.string:
        checks = [
            tf.debugging.assert_greater(
                tf.strings.length(data), 0, message=f"input `{name}`: empty image bytes"
            )
        ]
        known = tf.reduce_any([tf.equal(tf.strings.substr(data, 0, len(m)), m) for m in _MAGIC])
        checks.append(
            tf.debugging.assert_equal(
                known,
                True,
                message=f"input `{name}`: not a JPEG, PNG, BMP or GIF image "
                f"(unrecognised first bytes)",
                name=f"check_{name}",
            )
        )
        with tf.control_dependencies(checks):
            data = tf.identity(data)

        def jpeg(ratio):
            # The accurate integer DCT: libjpeg's own default (Pillow's, so the ONNX
            # client decodes the same pixels), where TensorFlow's is the fast one (up to
            # 7/255 off).
            return lambda: tf.io.decode_jpeg(
                data, channels=3, ratio=ratio, dct_method="INTEGER_ACCURATE", name=f"decode_{name}"
            )

        def scaled_jpeg():
            header = tf.image.extract_jpeg_shape(data)
            index = jpeg_scale(header[0], header[1], size, resize)
            return tf.switch_case(index, [jpeg(s) for s in JPEG_SCALES])

        image = tf.cond(
            tf.equal(tf.strings.substr(data, 0, 3), b"\xff\xd8\xff"),
            scaled_jpeg if jpeg_scale_mode == "auto" else jpeg(1),
            lambda: tf.io.decode_image(
                data, channels=3, expand_animations=False, name=f"decode_{name}"
            ),
        )
    else:
        image = data
        if image.shape.rank == 4:  # an animation: first frame
            image = image[0]
        static = image.shape[-1]
        if static is not None:
            # Both branches of a cond are traced: grayscale_to_rgb refuses a static 3.
            image = tf.image.grayscale_to_rgb(image) if static == 1 else image[..., :3]
        else:
            image = tf.cond(
                tf.shape(image)[-1] == 1,
                lambda: tf.image.grayscale_to_rgb(image),
                lambda: image[..., :3],
            )
    # Resized as it is (uint8 from the decoders): the resize computes in float32 only the
    # output pixels, where a cast first would convert every decoded pixel.
    image.set_shape([None, None, 3])
    if resize == "pad":
        image = tf.image.resize_with_pad(image, size[0], size[1])
    else:
        image = tf.image.resize(image, size)
    return tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 255.0)


def diagnose_image(path):
    """Why the file at `path` is not a usable image, or None if it is. Eager; for reports."""
    data, reason = read_for_diagnosis(path)
    if reason is not None:
        return reason, path
    kind = sniff_image_format(data)
    if kind is None:
        # The bytes themselves are not echoed: the file may hold anything.
        return "not an image (unrecognised format); expected JPEG, PNG, BMP or GIF", path
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
        return f"cannot decode image (corrupt or truncated {kind})", path
    return None, path
