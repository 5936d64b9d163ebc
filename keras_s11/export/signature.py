"""The serving function every export runs: input contract > model > probabilities."""

import tensorflow as tf

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.data.pipeline import CIFAR10_MEAN, CIFAR10_STD, normalize
from keras_s11.export.errors import ExportError
from keras_s11.serving import IMAGE_SIZE, InputSpec

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "ExportError", "make_input_spec", "serving_function"]


def make_input_spec(nchw=False, with_preprocessing=False, class_names=CIFAR10_CLASSES):
    """The `InputSpec` of an export.

    Args:
        nchw: Take N x 3 x 32 x 32 (PyTorch layout) instead of N x 32 x 32 x 3.
        with_preprocessing: Take raw uint8 pixels and normalise in the graph.
        class_names: Class names in output order.

    Returns:
        A `keras_s11.serving.InputSpec` with the CIFAR-10 mean and std.
    """
    return InputSpec(
        layout="NCHW" if nchw else "NHWC",
        preprocessing="in_graph" if with_preprocessing else "client",
        mean=tuple(CIFAR10_MEAN),
        std=tuple(CIFAR10_STD),
        class_names=tuple(class_names),
    )


def check_exportable(model, spec):
    """Checks that `model` maps 32x32 RGB images to `len(spec.class_names)` classes.

    Raises:
        ExportError: If the input or output shape does not fit.
    """
    input_shape = tuple(model.input_shape[1:])
    if input_shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ExportError(f"the model takes inputs of shape {input_shape}, expected (32, 32, 3) images")
    output_shape = tuple(model.output_shape[1:])
    if output_shape != (len(spec.class_names),):
        raise ExportError(
            f"the model outputs shape {output_shape}, expected ({len(spec.class_names)},) class probabilities"
        )


def serving_function(model, spec):
    """A function from the exported input to `{"probabilities": ...}`.

    The same function is converted to ONNX and saved as the SavedModel's
    serving signature, so both take exactly what `spec` describes.

    Args:
        model: A float32 Keras model taking normalised NHWC images.
        spec: The `InputSpec` of the export.

    Returns:
        `(function, input_signature)`: a plain Python function of one tensor
        named `image`, and its one-element list of `tf.TensorSpec`.
    """
    check_exportable(model, spec)
    input_signature = [tf.TensorSpec(spec.shape, tf.as_dtype(spec.dtype), name=INPUT_NAME)]

    def serve(image):
        x = image
        if spec.layout == "NCHW":
            x = tf.transpose(x, (0, 2, 3, 1))
        if spec.preprocessing == "in_graph":
            x = normalize(x, spec.mean, spec.std)
        return {OUTPUT_NAME: model(x, training=False)}

    return serve, input_signature
