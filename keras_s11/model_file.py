"""What a model path holds, checked cheaply before TensorFlow starts (no TensorFlow, no Keras).

Scripts call these checks first, so a wrong `--model` costs milliseconds and
one line, not seconds of TensorFlow start-up and its log.
"""

import os
import stat
import zipfile

KERAS_SUFFIX = ".keras"
_ZIP_MAGIC = b"PK\x03\x04"
_CONFIG = "config.json"


class ModelFileError(ValueError):
    """Raised when a path does not hold a loadable `.keras` model."""


def describe_folder(path):
    """What a folder is, in a few words: a SavedModel, an export or run folder, or just a folder.

    Args:
        path: An existing folder.

    Returns:
        A phrase such as `"a TensorFlow SavedModel folder"`.
    """
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return "a TensorFlow SavedModel folder"
    if os.path.isfile(os.path.join(path, "model.onnx")):
        return "an export folder (it holds model.onnx)"
    if os.path.isfile(os.path.join(path, "model.keras")):
        return "a run folder (it holds model.keras)"
    return "a folder"


def file_kind(path):
    """`None` for a regular file (links followed), else what `path` is instead, in a few words.

    Args:
        path: Any path.

    Returns:
        `None`, `"missing"`, a `describe_folder` phrase, or
        `"not a regular file (a device, FIFO or socket)"`.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISDIR(mode):
        return describe_folder(path)
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, FIFO or socket)"
    return None


def _starts_like_a_zip(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == _ZIP_MAGIC
    except OSError:
        return False


def check_keras_file(path):
    """Raises `ModelFileError` unless `path` looks like a `.keras` model file, without loading it.

    Checks, in order: it exists, is a regular file (not a folder, e.g. a
    SavedModel), ends in `.keras`, is a complete zip archive (a truncated
    file is named as such) and holds a `config.json`. Whether that config
    loads is for `keras_s11.saving.load_model` to find out.

    Args:
        path: The path given as a model.

    Raises:
        ModelFileError: With one line naming the path and what it is.

    Example:

    >>> check_keras_file("runs/first/model.keras")  # before `import tensorflow`
    """
    path = os.fspath(path)
    kind = file_kind(path)
    if kind == "missing":
        raise ModelFileError(f"model file {path} does not exist")
    if kind is not None:
        inside = os.path.join(path, "model.keras")
        hint = f"; use {inside}" if os.path.isdir(path) and os.path.isfile(inside) else ""
        raise ModelFileError(f"{path} is {kind}, not a .keras model file{hint}")
    if not zipfile.is_zipfile(path):
        if path.endswith(KERAS_SUFFIX) and _starts_like_a_zip(path):
            raise ModelFileError(f"{path} is a damaged or truncated .keras file (its zip directory is missing)")
        raise ModelFileError(f"{path} is not a Keras model file (expected a .keras archive)")
    if not path.endswith(KERAS_SUFFIX):
        raise ModelFileError(f"{path} is not a Keras model file (expected a .keras archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ModelFileError(f"{path} is a damaged .keras file: {error}") from None
    if _CONFIG not in names:
        raise ModelFileError(f"{path} is a zip archive but not a Keras model file (it has no {_CONFIG})")
