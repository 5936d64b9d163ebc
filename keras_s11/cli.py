"""Small helpers shared by the command-line scripts: one-line errors and checked flag types.

Every script ends in exactly one `error: ...` line on bad input. Expected
errors are reported with `fail`; `run_script` turns anything unexpected (a
bug, or a failure nobody foresaw) into one such line too, with a hint to
rerun with `--debug` (or `KERAS_S11_DEBUG=1`) to see the traceback, and
SIGTERM (a job scheduler, `kill`, a container stopping) into Ctrl-C's path.
Nothing here imports TensorFlow or Keras; `quiet_tensorflow` keeps
TensorFlow's start-up lines off stderr.
"""

import argparse
import contextlib
import copy
import errno
import math
import os
import re
import signal
import sys
import tempfile
import threading
import traceback
import warnings

from keras_s11.import_hooks import wrap_first_import

# TensorFlow's C++ log level the scripts use unless the user set TF_CPP_MIN_LOG_LEVEL:
# 3 keeps only fatal lines, so CPU-only machines do not print the cuInit error (level 2) either.
QUIET_TF_LOG_LEVEL = 3

# A line of TensorFlow's C++ log (absl format): severity, date, time, thread, file:line].
_LOG_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+ +\d+ [^\]]*\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CONTINUATION = ("To enable the following instructions",)  # second line of cpu_feature_guard's message


DEBUG_FLAG = "--debug"
DEBUG_ENV = "KERAS_S11_DEBUG"
INTERRUPTED_CODE = 130  # 128 + SIGINT, as a shell reports Ctrl-C
TERMINATED_CODE = 128 + signal.SIGTERM  # 143, as a shell reports a process ended by SIGTERM
TERMINATED = "terminated (SIGTERM)"
MAX_INT = 2**31 - 1  # counts (epochs, batch sizes, images): far beyond any real value, within int32
MAX_SEED = 2**32 - 1  # NumPy's and Keras's seeds are unsigned 32-bit


# Faults of the machine, not of the program: each worded as what it is (`describe_os_error`).
DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def fail(message, code=2):
    """Prints `error: message` on a line of its own to stderr and exits with `code`.

    A progress bar may have left stdout mid-line: that line is ended first,
    so the error starts a line of its own where both go to one terminal.
    """
    end_open_line()
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


class _LineEndTracker:
    """Wraps a text stream and remembers whether the last character written ended a line."""

    def __init__(self, stream):
        self.stream = stream
        self.at_line_start = True

    def write(self, text):
        if text:
            self.at_line_start = text.endswith(("\n", "\r\n"))
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def tracking_line_ends():
    """Within the block, `sys.stdout` remembers whether it is mid-line (for `end_open_line`)."""
    previous = sys.stdout
    if previous is None or isinstance(previous, _LineEndTracker):
        yield
        return
    sys.stdout = _LineEndTracker(previous)
    try:
        yield
    finally:
        if sys.stdout is not None and getattr(sys.stdout, "stream", None) is previous:
            sys.stdout = previous


def end_open_line():
    """Ends the line a progress bar left open on stdout (a no-op when stdout is at a line's start)."""
    stdout = sys.stdout
    if stdout is not None and not getattr(stdout, "at_line_start", True):
        stdout.write("\n")
    with contextlib.suppress(Exception):
        stdout.flush()


def describe_os_error(error):
    """One line for a fault of the machine (full disk, quota, read-only, no permission), or `None`.

    Args:
        error: An exception.

    Returns:
        For an `OSError` whose errno is one of `DISK_ERRORS`: what happened
        and, when the error names it, the file (`no space left on the
        device writing runs/x/model.keras`); otherwise `None`.
    """
    if not isinstance(error, OSError) or error.errno not in DISK_ERRORS:
        return None
    where = f" writing {error.filename}" if error.filename else ""
    return DISK_ERRORS[error.errno] + where


def first_line(error, limit=None):
    """The first line of an exception's message (its type name when empty), for one-line errors."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line[:limit] if limit else line


def describe_error(error, limit=None):
    """`Type: first line of the message` (just `Type` when the message is empty), for one-line errors."""
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {first_line(error, limit)}" if text else name


def debug_requested(argv=None):
    """Whether the user asked for tracebacks: `--debug` among `argv` (default: `sys.argv[1:]`) or
    `KERAS_S11_DEBUG` set to anything but empty or `0`."""
    argv = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the signal arrives (see `sigterm_as_interrupt`): Ctrl-C's path, from another signal."""


_terminated = threading.Event()  # set by the SIGTERM handler while `sigterm_as_interrupt` is active


def _raise_terminated(signum, frame):
    _terminated.set()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated(TERMINATED)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM raises `Terminated`, a `KeyboardInterrupt`, where the program is.

    Code that handles Ctrl-C (keeping what it has, saying how to resume)
    then handles SIGTERM the same way; `interruption()` tells the two
    apart. The previous handler is restored afterwards. Outside the main
    thread (where Python cannot set signal handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _terminated.clear()  # an interrupt after the block is Ctrl-C's again


def interruption():
    """How the last interrupt came: `("interrupted", 130)` for Ctrl-C, `("terminated (SIGTERM)", 143)` for SIGTERM.

    Returns:
        The word that begins the one-line message, and the exit status.
    """
    return (TERMINATED, TERMINATED_CODE) if _terminated.is_set() else ("interrupted", INTERRUPTED_CODE)


def _one_line(message, category, filename, lineno, line=None):
    return f"warning: {category.__name__}: {message}\n"


@contextlib.contextmanager
def one_line_warnings():
    """Within the block, a warning prints as one line, `warning: <Category>: <message>`, without source lines."""
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line
    try:
        yield
    finally:
        warnings.formatwarning = previous


def run_script(main, argv=None, interrupted="interrupted"):
    """Runs a script's `main(argv)` so that it never ends in a traceback unless asked to.

    Warnings print as one line each (`one_line_warnings`). `SystemExit`
    (from `fail` or argparse) passes through. Ctrl-C becomes
    `error: <interrupted>` with exit status 130; SIGTERM takes the same path
    (`sigterm_as_interrupt`), its message beginning with "terminated
    (SIGTERM)" instead of "interrupted", with exit status 143. Any other
    exception becomes one line, `error: unexpected <Type>: <first line of
    its message>`, with exit status 1 and a hint to rerun with `--debug` or
    `KERAS_S11_DEBUG=1`, which re-raise it with its full traceback (for a
    bug report).

    Args:
        main: The script's `main`, called as `main(argv)`.
        argv: Arguments (default: `sys.argv[1:]`, as `main` reads them).
        interrupted: The message for Ctrl-C; a script that can be resumed
            says how.

    Returns:
        What `main` returns.

    Example:

    >>> if __name__ == "__main__":
    ...     run_script(main)
    """
    with sigterm_as_interrupt(), one_line_warnings(), tracking_line_ends():
        try:
            return main(argv)
        except KeyboardInterrupt:
            how, code = interruption()
            if debug_requested(argv):
                if code == INTERRUPTED_CODE:
                    raise
                traceback.print_exc()
                raise SystemExit(code) from None
            if how != "interrupted" and interrupted.startswith("interrupted"):
                interrupted = how + interrupted[len("interrupted") :]
            fail(interrupted, code=code)
        except Exception as error:  # noqa: BLE001 - the point: no traceback unless asked for
            if debug_requested(argv):
                raise
            expected = describe_os_error(error) or (first_line(error) if getattr(error, "expected", False) else None)
            if expected:
                fail(expected, code=1)
            fail(
                f"unexpected {describe_error(error, 300)} "
                f"(rerun with {DEBUG_FLAG} or {DEBUG_ENV}=1 to see the traceback)",
                code=1,
            )


def _number(text, kind):
    """`float(text)` (or `int`), or an `ArgumentTypeError` that echoes the text."""
    try:
        return kind(text)
    except (ValueError, OverflowError):
        noun = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None


def finite_float(text):
    """argparse type: a finite number (NaN and infinities are refused)."""
    value = _number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {value}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return value


def nonnegative_float(text):
    """argparse type: a finite number >= 0."""
    value = _number(text, float)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value}")
    return value


def fraction_float(text):
    """argparse type: a finite number in [0, 1) (momentum, label smoothing)."""
    value = _number(text, float)
    if not 0 <= value < 1:  # false for NaN too
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {value}")
    return value


def positive_int(text):
    """argparse type: an integer in 1..2**31-1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_INT}, got {value}")
    return value


def int_in_range(low, high):
    """An argparse type for integers in `low..high` (both included).

    Example:

    >>> parser.add_argument("--dpi", type=int_in_range(10, 1000))
    """

    def parse(text):
        value = _number(text, int)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {value}")
        return value

    parse.__name__ = f"int_in_range({low}, {high})"  # argparse names the type in some messages
    return parse


seed_int = int_in_range(0, MAX_SEED)
seed_int.__doc__ = f"argparse type: a random seed, an integer in 0..{MAX_SEED} (what NumPy and Keras accept)."


class _DebugFlag(argparse.Action):
    """`--debug`: read by `run_script` from the command line; stores nothing in the namespace."""

    def __init__(self, option_strings, dest, **kwargs):
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        pass


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
    and shows every option's default (`DefaultsHelpFormatter`). It also
    accepts `--debug` (see `run_script`), which adds nothing to the parsed
    namespace.
    """

    def __init__(self, *args, formatter_class=None, **kwargs):
        super().__init__(*args, formatter_class=formatter_class or DefaultsHelpFormatter, **kwargs)
        self.add_argument(
            DEBUG_FLAG, action=_DebugFlag, help=f"show the full traceback of an unexpected error (or set {DEBUG_ENV}=1)"
        )

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
