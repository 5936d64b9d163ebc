"""Small helpers shared by the command-line scripts (no TensorFlow or Keras imported here)."""

import argparse
import copy
import math
import os
import re
import sys
import tempfile

from keras_s11.import_hooks import wrap_first_import

# TensorFlow's C++ log level the scripts use unless the user set TF_CPP_MIN_LOG_LEVEL:
# 3 keeps only fatal lines, so CPU-only machines do not print the cuInit error (level 2) either.
QUIET_TF_LOG_LEVEL = 3

# A line of TensorFlow's C++ log (absl format): severity, date, time, thread, file:line].
_LOG_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+ +\d+ [^\]]*\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CONTINUATION = ("To enable the following instructions",)  # second line of cpu_feature_guard's message


def fail(message, code=2):
    """Prints `error: message` on one line to stderr and exits with `code`."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def first_line(error, limit=None):
    """The first line of an exception's message (its type name when empty), for one-line errors."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line[:limit] if limit else line


def positive_int(text):
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return value


def finite_float(text):
    """argparse type: a finite number (no NaN, no infinity)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {value}")
    return value


MAX_SEED = 2**32 - 1  # NumPy's legacy seeding, which keras.utils.set_random_seed uses, stops there


def seed_int(text):
    """argparse type: a random seed, an integer in [0, 2**32 - 1]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in [0, {MAX_SEED}], got {value}")
    return value


class DefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description as written and ends each option's help with its default.

    Like `argparse.ArgumentDefaultsHelpFormatter`, but lists print as typed
    (`layer1 layer2`), and nothing is added where the help text speaks of its
    default already, where the default is `None` (the help says what
    happens then), or to a flag without a value (`store_true`).
    """

    def _format_action(self, action):
        if not action.help and self._default_text(action):
            action = copy.copy(action)  # argparse prints no help line for an option without help text
            action.help = self._default_text(action)
        return super()._format_action(action)

    def _get_help_string(self, action):
        text = self._default_text(action)
        if not text or text == action.help:
            return action.help
        return f"{action.help} ({text})"

    @staticmethod
    def _default_text(action):
        """`default: VALUE` (escaped for argparse's % formatting), or `None` where none is shown."""
        default = action.default
        said = action.help and ("default:" in action.help or "%(default)" in action.help)
        positional_with_value = not action.option_strings and action.nargs not in (argparse.OPTIONAL, "*")
        if said or default is None or default is argparse.SUPPRESS or action.nargs == 0 or positional_with_value:
            return None
        if isinstance(default, (list, tuple)):
            default = " ".join(str(value) for value in default)
        return "default: " + str(default).replace("%", "%%")


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one `error: ...` line (no usage dump).

    Its `--help` keeps the description as written (the scripts' docstrings)
    and shows every option's default (`DefaultsHelpFormatter`).
    """

    def __init__(self, *args, formatter_class=DefaultsHelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message):
        fail(message)


def quiet_tensorflow(level=QUIET_TF_LOG_LEVEL):
    """Keeps TensorFlow's start-up lines off stderr unless the user chose a log level.

    Call it before TensorFlow is imported (it does not import it). Unless
    `TF_CPP_MIN_LOG_LEVEL` is set already, it sets it to `level` and, while
    TensorFlow is first imported, holds back the lines its C++ libraries
    print before their logging is set up (the absl banner, oneDNN, "Could not
    find cuda drivers"), which `TF_CPP_MIN_LOG_LEVEL` does not reach. Log
    lines of lower severity than `level` are dropped; anything else printed
    meanwhile (a Python warning, a traceback) is passed on unchanged.

    Args:
        level: TensorFlow's C++ log level, 0 (everything) to 3 (fatal only).

    Returns:
        `True` if it quietened TensorFlow, `False` if the user's
        `TF_CPP_MIN_LOG_LEVEL` is left in charge.

    Raises:
        ValueError: If `level` is not 0, 1, 2 or 3.

    Example:

    >>> from keras_s11.cli import quiet_tensorflow
    >>> quiet_tensorflow()  # first thing in a script, before keras or tensorflow
    """
    if level not in (0, 1, 2, 3):
        raise ValueError(f"Argument `level` must be 0, 1, 2 or 3. Received: level={level!r}")
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(level)
    wrap_first_import("tensorflow", lambda execute: run_holding_back_log_lines(execute, level))
    return True


def run_holding_back_log_lines(execute, level):
    """Runs `execute()` with stderr (file descriptor 2) captured, then passes on all but log noise.

    Args:
        execute: A function of no arguments.
        level: Log lines of a severity below it (I=0, W=1, E=2, F=3) are dropped.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to capture
        execute()
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            execute()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = drop_log_lines(captured.read().decode("utf-8", errors="replace"), level)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def drop_log_lines(text, level):
    """`text` without TensorFlow's C++ log lines below `level` and absl's pre-init banner.

    Args:
        text: Captured stderr output.
        level: Lowest severity kept (I=0, W=1, E=2, F=3).

    Returns:
        The remaining lines, each with its line ending.
    """
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            dropping = _SEVERITY[match.group(1)] < level
        elif line.rstrip("\n") == _ABSL_BANNER:
            dropping = True
        elif not (dropping and line.startswith(_CONTINUATION)):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)
