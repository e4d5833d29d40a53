"""Images: encoded bytes -> float32 RGB [h, w, 3] in [0, 255], all in TensorFlow ops."""


import tensorflow as tf

from tfmm.data.errors import read_for_diagnosis

_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP"}


def sniff_image_format(data: bytes):
    """'JPEG', 'PNG', 'GIF', 'BMP' or None, from the first bytes."""
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    return None


def decode_image(data, size, resize="plain", name="image"):
    """Decodes JPEG/PNG/BMP/GIF (first frame) bytes and resizes them.

    JPEG is decoded with the accurate integer DCT (`dct_method="INTEGER_ACCURATE"`), as
    libjpeg and Pillow decode it.

    Grayscale and RGBA become RGB. Undecodable bytes raise InvalidArgumentError whose
    message names the input. A tensor that is already decoded (uint8/float [h, w, c], as
    TFDS gives) is only converted and resized.

    Args:
        data: scalar string tensor of encoded bytes, or a decoded image tensor.
        size: (height, width).
        resize: "plain" (stretch to size) or "pad" (keep aspect ratio, zero-pad).
        name: str. Input name for error messages.

    Returns:
        float32 [height, width, 3] in [0, 255].

    Example:

    >>> import numpy as np
    >>> png = tf.io.encode_png(np.zeros((5, 9, 1), "uint8"))
    >>> tuple(decode_image(png, (4, 4), resize="pad").shape)
    (4, 4, 3)
    """
    if data.dtype == tf.string:
        checks = [tf.debugging.assert_greater(tf.strings.length(data), 0,
                                              message=f"input `{name}`: empty image bytes")]
        known = tf.reduce_any([tf.equal(tf.strings.substr(data, 0, len(m)), m)
                               for m in _MAGIC])
        checks.append(tf.debugging.assert_equal(
            known, True, message=f"input `{name}`: not a JPEG, PNG, BMP or GIF image "
                                 f"(unrecognised first bytes)", name=f"check_{name}"))
        with tf.control_dependencies(checks):
            data = tf.identity(data)
        image = tf.cond(
            tf.equal(tf.strings.substr(data, 0, 3), b"\xff\xd8\xff"),
            # The accurate integer DCT: libjpeg's own default (Pillow's, so the ONNX
            # client decodes the same pixels), where TensorFlow's is the fast one (up to
            # 7/255 off).
            lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE",
                                      name=f"decode_{name}"),
            lambda: tf.io.decode_image(data, channels=3, expand_animations=False,
                                       name=f"decode_{name}"))
    else:
        image = data
        if image.shape.rank == 4:  # an animation: first frame
            image = image[0]
        static = image.shape[-1]
        if static is not None:
            # Both branches of a cond are traced: grayscale_to_rgb refuses a static 3.
            image = tf.image.grayscale_to_rgb(image) if static == 1 else image[..., :3]
        else:
            image = tf.cond(tf.shape(image)[-1] == 1,
                            lambda: tf.image.grayscale_to_rgb(image), lambda: image[..., :3])
    image = tf.cast(image, tf.float32)
    image.set_shape([None, None, 3])
    if resize == "pad":
        image = tf.image.resize_with_pad(image, size[0], size[1])
    else:
        image = tf.image.resize(image, size)
    return tf.clip_by_value(image, 0.0, 255.0)


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
