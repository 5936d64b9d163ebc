"""The Keras and TensorFlow versions in use, for code written for some versions only.

The project is tested from TensorFlow 2.19 / Keras 3.10 (a notebook host's
stack) to the newest releases (`pyproject.toml`). Code that exists because
of one version's behaviour compares against these, names the versions it is
for, and says why; `tests/test_version_gates.py` checks each gate on
whichever versions the tests run with. Keras and TensorFlow are imported on
first use.
"""

import re


def parse_version(text):
    """`(major, minor, patch)` of a version string such as `"3.10.0"`, `"2.19.0-rc1"` or `"2.21.0.dev2025"`.

    Args:
        text: A version string.

    Returns:
        A tuple of three integers (missing parts are 0).

    Raises:
        ValueError: If `text` does not start with a number.
    """
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(text).strip())
    if not match:
        raise ValueError(f"Argument `text` must be a version such as '3.10.0'. Received: text={text!r}")
    return tuple(int(part or 0) for part in match.groups())


def keras_version():
    """The installed Keras's `(major, minor, patch)`."""
    import keras

    return parse_version(keras.version())


def tensorflow_version():
    """The installed TensorFlow's `(major, minor, patch)`."""
    import tensorflow as tf

    return parse_version(tf.__version__)
