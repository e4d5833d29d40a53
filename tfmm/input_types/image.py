"""Image inputs: a column of JPEG/PNG/BMP/GIF file paths."""

from tfmm.input_types.registry import InputType, decoded_or_missing, register_input_type


@register_input_type
class Image(InputType):
    name, default_encoder, media = "image", "cnn", True
    fields = ("image_size", "resize", "jpeg_scale")

    def features(self, i, pre, raw, text=True):
        return {i.name: image_tensor(i, raw[i.column])}

    def served_features(self, i, pre, raw):
        import tensorflow as tf

        return {
            i.name: tf.map_fn(
                lambda b: image_tensor(i, b),
                raw[i.name],
                fn_output_signature=tf.TensorSpec([*i.image_hw, 3], tf.float32),
            )
        }

    def client_spec(self, i, vocabulary):
        return {"image_hw": list(i.image_hw), "resize": i.resize, "jpeg_scale": i.jpeg_scale}

    def meanings(self, i):
        h, w = i.image_hw
        return {
            i.name: f"float32 [batch, {h}, {w}, 3]: RGB pixels in [0, 255], resized ({i.resize})"
        }


def image_tensor(i, value):
    """One image's pixels from its bytes (an `image` input `i`); an optional input's empty
    bytes give zeros (missing)."""
    import tensorflow as tf

    from tfmm.data.image import decode_image

    return decoded_or_missing(
        i,
        value,
        lambda: decode_image(
            value, i.image_hw, i.resize, name=i.name, jpeg_scale_mode=i.jpeg_scale
        ),
        lambda: tf.zeros([*i.image_hw, 3], tf.float32),
    )
