"""A restricted unpickler for the official `cifar-10-batches-py` files."""

import io
import pickle

from keras_s11.data.errors import DataError

# Everything the CIFAR-10 batch files (pickled with numpy under Python 2 or 3)
# can legitimately reference. Anything else, `os.system` for a start, is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
    ("builtins", "bytes"),
    ("__builtin__", "bytes"),
}


class UnsafePickleError(DataError, pickle.UnpicklingError):
    """Raised when a pickle asks for anything outside the CIFAR-10 format.

    A `DataError` (what the loaders raise for any bad source) and a
    `pickle.UnpicklingError`.
    """


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to load `{module}.{name}`: a CIFAR-10 batch file holds only "
            "dicts, lists, bytes, numbers and numpy arrays"
        )


def safe_loads(data):
    """Unpickles `data` allowing only what a CIFAR-10 batch file contains.

    Args:
        data: The bytes of a pickle.

    Returns:
        The unpickled object (with byte-string keys, as the files were
        written under Python 2).

    Raises:
        UnsafePickleError: If the pickle references any other global.
    """
    return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
