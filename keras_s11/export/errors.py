"""The export's error type, in a module that imports no TensorFlow (the state dict needs none)."""


class ExportError(ValueError):
    """Raised when a model cannot be exported as asked."""
