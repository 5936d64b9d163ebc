"""TensorFlow SavedModel export for TF Serving, and running it back."""

import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_s11.export.signature import INPUT_NAME, OUTPUT_NAME, serving_function


def export_saved_model(model, path, spec):
    """Writes a SavedModel whose `serving_default` signature is the serving function.

    The signature takes `image` as `spec` describes it and returns
    `{"probabilities": (N, classes)}`, which TF Serving exposes as is.

    Args:
        model: A float32 Keras model taking normalised NHWC images.
        path: Output folder; written under a temporary name, then renamed.
        spec: The `keras_s11.serving.InputSpec` of the export.
    """
    serve, input_signature = serving_function(model, spec)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve, input_signature=input_signature)
    tmp = f"{path}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    os.replace(tmp, path)


def saved_model_probabilities(path, inputs, batch_size=256):
    """Reloads a SavedModel and runs its `serving_default` signature.

    Args:
        path: SavedModel folder.
        inputs: Array in the layout and dtype of the export.
        batch_size: Images per call.

    Returns:
        float32 array `(N, classes)`.
    """
    serve = tf.saved_model.load(path).signatures["serving_default"]
    outputs = [
        serve(**{INPUT_NAME: tf.constant(inputs[start : start + batch_size])})[OUTPUT_NAME].numpy()
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32)
