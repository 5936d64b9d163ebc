"""A workaround for Keras's weight average (`use_ema`) on the JAX backend.

Keras 3.15 on JAX: `fit` ends with `finalize_variable_values`, which
assigns each trainable variable the array of its moving average, so the
model and the optimizer then hold the same JAX array. The next `predict` or
`evaluate` donates the model's arrays to XLA, which deletes that array, and
the optimizer's average goes with it: saving the model (with its optimizer)
fails with "Array has been deleted". `tests/test_ema_fix.py` reproduces the
bug on the Keras versions this applies to, so that it fails once Keras
fixes it and this module can go.
"""

import keras
import numpy as np

# The newest Keras version known to alias the arrays (the version pinned in pyproject.toml).
LAST_AFFECTED_KERAS = (3, 15)


def is_affected(backend=None, version=None):
    """Whether Keras's `use_ema` leaves the model and optimizer sharing arrays."""
    backend = backend or keras.backend.backend()
    major, minor = (int(part) for part in (version or keras.version()).split(".")[:2])
    return backend == "jax" and (major, minor) <= LAST_AFFECTED_KERAS


def untie_optimizer_arrays(model):
    """Gives each of the optimizer's variables an array of its own, where Keras shares them.

    Call it after `fit` with an optimizer built with `use_ema=True`; a no-op
    elsewhere.

    Args:
        model: A compiled Keras model.

    Returns:
        Whether anything was done.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "use_ema", False) or not is_affected():
        return False
    for variable in optimizer.variables:
        variable.assign(np.array(keras.ops.convert_to_numpy(variable)))
    return True
