"""Image layers."""

import keras
import numpy as np

# The ImageNet channel means that `keras.applications.resnet.preprocess_input` subtracts
# ("caffe" mode: BGR order, no scaling).
_IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="tfmm")
class CaffePreprocess(keras.layers.Layer):
    """ResNet's `preprocess_input` as a layer: RGB [0, 255] -> BGR minus ImageNet means.

    Inside the model (not the data pipeline) so that exported models take plain RGB
    pixels, and so that the op converts to ONNX (a channel gather and a subtraction).

    Example:

    >>> import numpy as np
    >>> x = np.zeros((1, 2, 2, 3), "float32")
    >>> y = CaffePreprocess()(x)
    >>> [round(float(v), 3) for v in np.asarray(y)[0, 0, 0]]
    [-103.939, -116.779, -123.68]
    """

    def call(self, images):
        images = keras.ops.cast(images, self.compute_dtype)
        bgr = keras.ops.flip(images, axis=-1)
        mean = keras.ops.convert_to_tensor(np.array(_IMAGENET_BGR_MEAN), self.compute_dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return input_shape
