"""The one error every CIFAR-10 loader raises (no TensorFlow, no Pillow)."""


class DataError(ValueError):
    """Raised when a data source is missing, incomplete or malformed.

    Every loader in `keras_s11.data` reports a bad source with this error (or
    its subclass `UnsafePickleError`), with a one-line message that names the
    file and the problem, so a script can print it as it is.
    """
