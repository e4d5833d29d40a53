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


_IMAGENET_RGB_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_RGB_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="tfmm")
class TorchPreprocess(keras.layers.Layer):
    """The "torch" ImageNet preprocessing as a layer: RGB [0, 255] -> (x / 255 - mean) /
    std per channel (what EfficientNetV2-B* do inside `keras.applications`).

    Its constants are made in `call`, so the op converts to ONNX (Keras's `Normalization`
    layer holds them as tensors that tf2onnx leaves as extra graph inputs).

    Example:

    >>> import numpy as np
    >>> y = TorchPreprocess()(np.full((1, 1, 1, 3), 255.0, "float32"))
    >>> [round(float(v), 3) for v in np.asarray(y)[0, 0, 0]]
    [2.249, 2.429, 2.64]
    """

    def call(self, images):
        images = keras.ops.cast(images, self.compute_dtype)
        mean = keras.ops.convert_to_tensor(np.array(_IMAGENET_RGB_MEAN), self.compute_dtype)
        std = keras.ops.convert_to_tensor(np.array(_IMAGENET_RGB_STD), self.compute_dtype)
        return (images / 255.0 - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape
