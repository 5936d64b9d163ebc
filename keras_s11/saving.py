"""Loading saved models, and float32 copies of mixed-precision ones."""

import os

import keras

# Importing these registers the custom objects a saved run may hold.
import keras_s11.layers  # noqa: F401
import keras_s11.losses  # noqa: F401
import keras_s11.optimizers  # noqa: F401
import keras_s11.schedules  # noqa: F401
from keras_s11 import cli
from keras_s11.finite_weights import first_non_finite_weight
from keras_s11.model_file import ModelFileError, check_keras_file


def load_model(path, compile=True):
    """Loads a `.keras` file saved by this project (or any Keras 3 model).

    `safe_mode` stays on: a file cannot run arbitrary code when loaded.

    Args:
        path: Path of a `.keras` file.
        compile: Whether to restore the optimizer, loss and metrics.

    Returns:
        The `keras.Model`.

    Raises:
        ModelFileError: If `path` is missing, is not a Keras model file, or
            holds a weight with NaN or Inf, with a one-line message naming
            the path (and the weight).
    """
    path = os.fspath(path)
    check_keras_file(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged archive
        first_line = cli.first_line(error)
        raise ModelFileError(f"{path} could not be loaded as a Keras model: {first_line}") from error
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a keras.Model")
    problem = first_non_finite_weight(model.weights)
    if problem:
        raise ModelFileError(f"{path} is broken: its {problem}")
    return model


def float32_copy(model):
    """A float32 copy of a Functional model trained under mixed precision.

    The copy has the same layers, names and weights with every layer's dtype
    policy set to float32, so exporters and Grad-CAM see float32 throughout.
    Mixed-precision models keep float32 weights, so nothing is rounded.

    Args:
        model: A Functional `keras.Model`.

    Returns:
        A new, uncompiled `keras.Model`.
    """
    config = _float32_config(model.get_config())
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def as_float32(model):
    """`model` itself when every layer computes in float32, else its `float32_copy`."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    return float32_copy(model)


def _float32_config(config):
    """Replaces every dtype policy in a nested layer config with float32."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and "config" in config:
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_config(item) for item in config]
    return config
