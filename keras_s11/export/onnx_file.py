"""ONNX export through tf2onnx."""

import logging
import os

import onnx
import tensorflow as tf

from keras_s11 import cli
from keras_s11.export.defaults import DEFAULT_OPSET
from keras_s11.export.signature import ExportError, serving_function

BATCH_DIMENSION = "batch"


def export_onnx(model, path, spec, opset=DEFAULT_OPSET):
    """Converts a float32 Keras model to an ONNX file.

    The model is wrapped in a `tf.function` with an explicit input signature
    and converted with `tf2onnx.convert.from_function`, which avoids
    tf2onnx's Keras 3 path (`KeyError 'keras_tensor_N'` on reloaded models,
    tensorflow-onnx#2448). The input is named `image`, the output
    `probabilities`, both with a dynamic batch dimension named `batch`; the
    input contract (`spec`) is written to the file's metadata.

    Args:
        model: A float32 Keras model taking normalised NHWC images.
        path: Output `.onnx` path, written atomically.
        spec: The `keras_s11.serving.InputSpec` of the export.
        opset: ONNX opset.

    Returns:
        The `onnx.ModelProto` written.

    Raises:
        ExportError: If tf2onnx cannot convert the model.
    """
    import tf2onnx

    serve, input_signature = serving_function(model, spec)
    function = tf.function(serve, input_signature=input_signature)
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=input_signature, opset=opset)
    except Exception as error:  # tf2onnx raises many types
        first_line = cli.first_line(error)
        raise ExportError(f"tf2onnx could not convert the model (opset {opset}): {first_line}") from error
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIMENSION
    for key, value in spec.to_metadata().items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = f"{model.name}: {spec.describe()}; outputs class probabilities"
    onnx.checker.check_model(proto)
    tmp = f"{path}.partial"
    onnx.save(proto, tmp)
    os.replace(tmp, path)
    return proto
