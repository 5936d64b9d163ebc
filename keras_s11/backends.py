"""Which Keras backend runs, and one clear line for the pieces that need TensorFlow's."""

import keras


class BackendError(RuntimeError):
    """Raised when a feature needs a Keras backend other than the one in use."""


def keras_backend():
    """The name of Keras's backend: `"tensorflow"`, `"jax"` or `"torch"`."""
    return keras.backend.backend()


def require_tensorflow_backend(feature, alternative=None):
    """Raises `BackendError` unless Keras runs on TensorFlow.

    Args:
        feature: What needs TensorFlow, e.g. `"Grad-CAM (tf-keras-vis)"`.
        alternative: What to do instead on this backend, one clause.

    Raises:
        BackendError: One line naming the feature, the backend in use and
            the way out.
    """
    backend = keras_backend()
    if backend == "tensorflow":
        return
    instead = f"; {alternative}" if alternative else ""
    raise BackendError(
        f"{feature} needs Keras's TensorFlow backend, and Keras runs on {backend} here: "
        f"set KERAS_BACKEND=tensorflow{instead}"
    )
