"""keras_s11.cli: run_script's one-line errors, --debug, and the checked argparse types."""

import argparse
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_s11 import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRAW_CLR = os.path.join(ROOT, "scripts", "draw_clr.py")


def raises(error):
    """A function (a script's `main`, or anything it calls) that raises `error`."""

    def function(*args, **kwargs):
        raise error

    return function


def stderr_lines(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_an_unexpected_error_is_one_line_with_its_type_first_line_and_the_debug_hint(capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    with pytest.raises(SystemExit) as info:
        cli.run_script(raises(RuntimeError("disk on fire\n  details nobody needs")), [])
    assert info.value.code == 1
    assert stderr_lines(capsys) == [
        "error: unexpected RuntimeError: disk on fire (rerun with --debug or KERAS_S11_DEBUG=1 to see the traceback)"
    ]
    with pytest.raises(SystemExit):
        cli.run_script(raises(MemoryError()), [])
    assert stderr_lines(capsys)[0].startswith("error: unexpected MemoryError (rerun with --debug")


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_debug_shows_the_real_exception(how, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    argv = ["--debug"] if how == "flag" else []
    if how == "environment":
        monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli.run_script(raises(RuntimeError("disk on fire")), argv)
    with pytest.raises(KeyboardInterrupt):
        cli.run_script(raises(KeyboardInterrupt()), argv)


def test_debug_environment_value_zero_or_empty_means_off(monkeypatch):
    for value in ("0", ""):
        monkeypatch.setenv(cli.DEBUG_ENV, value)
        assert not cli.debug_requested([])
    monkeypatch.setenv(cli.DEBUG_ENV, "yes")
    assert cli.debug_requested([])


def test_ctrl_c_is_one_line_and_exit_status_130(capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    with pytest.raises(SystemExit) as info:
        cli.run_script(raises(KeyboardInterrupt()), [], interrupted="interrupted; nothing was written")
    assert info.value.code == 130
    lines = stderr_lines(capsys)
    assert lines == ["error: interrupted; nothing was written"]


def test_exits_and_results_pass_through(capsys):
    with pytest.raises(SystemExit) as info:
        cli.run_script(lambda argv: cli.fail("bad flag"), [])
    assert info.value.code == 2 and stderr_lines(capsys) == ["error: bad flag"]
    assert cli.run_script(lambda argv: argv + ["done"], ["a"]) == ["a", "done"]


def test_every_parser_accepts_debug_and_stores_nothing():
    parser = cli.ArgumentParser()
    parser.add_argument("--seed", type=cli.seed_int, default=0)
    assert vars(parser.parse_args(["--debug", "--seed", "3"])) == {"seed": 3}


@pytest.mark.parametrize(
    "kind, text, message",
    [
        (cli.finite_float, "nan", "must be a finite number, got nan"),
        (cli.finite_float, "-inf", "must be a finite number, got -inf"),
        (cli.finite_float, "1e999", "must be a finite number, got inf"),
        (cli.finite_float, "x", "expected a number, got 'x'"),
        (cli.nonnegative_float, "nan", "must be a finite number >= 0, got nan"),
        (cli.nonnegative_float, "-1e-9", "must be a finite number >= 0, got -1e-09"),
        (cli.nonnegative_float, "inf", "must be a finite number >= 0, got inf"),
        (cli.positive_float, "0", "must be a finite number > 0, got 0.0"),
        (cli.positive_float, "nan", "must be a finite number > 0, got nan"),
        (cli.fraction_float, "1", "must be a number in [0, 1), got 1.0"),
        (cli.fraction_float, "nan", "must be a number in [0, 1), got nan"),
        (cli.positive_int, "0", "must be > 0, got 0"),
        (cli.positive_int, "2147483648", "must be <= 2147483647, got 2147483648"),
        (cli.positive_int, "1.5", "expected a positive integer, got '1.5'"),
        (cli.seed_int, "-1", "must be in 0..4294967295, got -1"),
        (cli.seed_int, "4294967296", "must be in 0..4294967295, got 4294967296"),
        (cli.seed_int, "99999999999", "must be in 0..4294967295, got 99999999999"),
    ],
)
def test_flag_types_refuse_nan_infinities_and_out_of_range_values(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        kind(text)
    assert str(info.value) == message


def test_flag_types_accept_their_bounds():
    assert cli.nonnegative_float("0") == 0.0 and cli.finite_float("-2.5") == -2.5
    assert cli.fraction_float("0") == 0.0 and cli.fraction_float("0.999") == 0.999
    assert cli.positive_int("2147483647") == 2**31 - 1
    assert cli.seed_int("0") == 0 and cli.seed_int("4294967295") == 2**32 - 1


def test_seed_range_is_exactly_what_numpy_and_keras_accept():
    import keras

    keras.utils.set_random_seed(cli.MAX_SEED)  # the largest seed_int works
    np.random.seed(cli.MAX_SEED)
    with pytest.raises(ValueError):
        keras.utils.set_random_seed(cli.MAX_SEED + 1)  # one more does not: seed_int refuses it up front
    keras.utils.set_random_seed(0)


def test_a_script_turns_an_unexpected_error_into_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """In-process through the script's own `run_script(main)` entry point."""
    import keras_s11.clr

    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(keras_s11.clr, "cyclic_lr", raises(ZeroDivisionError("float division by zero")))
    spec = importlib.util.spec_from_file_location("draw_clr_script", DRAW_CLR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as info:
        cli.run_script(module.main, ["--out", str(tmp_path / "clr.png")])
    assert info.value.code == 1
    assert stderr_lines(capsys) == [
        "error: unexpected ZeroDivisionError: float division by zero "
        "(rerun with --debug or KERAS_S11_DEBUG=1 to see the traceback)"
    ]
    assert os.listdir(tmp_path) == []


def test_the_real_process_has_no_traceback_unless_debug(tmp_path):
    """draw_clr.py with --out a folder named like a PNG, and --overwrite: a failure no check foresees."""
    (tmp_path / "clr.png").mkdir()
    command = [sys.executable, DRAW_CLR, "--out", str(tmp_path / "clr.png"), "--overwrite", "--step-size", "5"]
    # As a user runs it: no debug switch, and TensorFlow's log level left to the script.
    env = {key: value for key, value in os.environ.items() if key not in (cli.DEBUG_ENV, "TF_CPP_MIN_LOG_LEVEL")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: unexpected ")
    assert lines[0].endswith("(rerun with --debug or KERAS_S11_DEBUG=1 to see the traceback)")
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=120, env=env)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert os.listdir(tmp_path) == ["clr.png"] and os.listdir(tmp_path / "clr.png") == []


def test_scripts_print_a_warning_as_one_line():
    import warnings

    from keras_s11 import cli
    from keras_s11.lr_finder import LRRangeWarning

    with cli.one_line_warnings():
        text = warnings.formatwarning("LRMAX is uncertain", LRRangeWarning, "lr_finder.py", 12, "warnings.warn(...)")
    assert text == "warning: LRRangeWarning: LRMAX is uncertain\n"
    assert warnings.formatwarning is not cli._one_line  # restored after the block
