"""Command-line output: `--help` with every default, and TensorFlow's start-up lines kept down."""

import os
import re
import runpy
import subprocess
import sys

import pytest

from keras_s11.cli import ArgumentParser, drop_log_lines, quiet_tensorflow, run_holding_back_log_lines
from keras_s11.import_hooks import wrap_first_import

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each script with the arguments it requires.
SCRIPTS = {
    "draw_clr.py": [],
    "evaluate.py": ["--model", "m.keras"],
    "export.py": ["--model", "m.keras", "--out", "out"],
    "predict.py": ["cat.png", "--model", "m.onnx"],
}


def shown(value):
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_shows_every_default_and_keeps_the_docstring(script, capsys):
    parse_args = runpy.run_path(os.path.join(ROOT, "scripts", script))["parse_args"]
    defaults = vars(parse_args(SCRIPTS[script]))
    with pytest.raises(SystemExit) as info:
        parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    text = " ".join(out.split())  # argparse wraps lines
    checked = 0
    for name, value in defaults.items():
        if value is None or isinstance(value, bool) or shown(value) in " ".join(SCRIPTS[script]):
            continue  # flags, required arguments, and options whose help says what None means
        assert f"default: {shown(value)}" in text, name
        checked += 1
    assert checked >= 1
    example = runpy.run_path(os.path.join(ROOT, "scripts", script))["__doc__"].splitlines()[2]
    assert example.startswith("    python scripts/") and f"\n{example}\n" in out  # the docstring as written


def test_help_formatter_lists_escapes_and_does_not_repeat_a_default(capsys):
    parser = ArgumentParser(prog="tool", description="Line one.\n\n    indented example\n")
    parser.add_argument("--layers", nargs="+", default=["a", "b"], help="layers")
    parser.add_argument("--ratio", default="5%", help="a ratio")
    parser.add_argument("--data", help="a folder (default: tfds)")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--dry-run", action="store_true", help="only check")
    parser.add_argument("path", help="a file")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "\n    indented example\n" in out  # the description as written
    assert "layers (default: a b)" in out and "a ratio (default: 5%)" in out
    assert re.search(r"--count COUNT +default: 3\n", out)  # no help text: the default alone
    assert out.count("default: tfds") == 1 and "only check\n" in out and "a file\n" in out


LOG = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795748702.477290    6644 port.cc:153] oneDNN custom operations are on.\n"
    "W0000 00:00:1795748702.477601    6644 cudart_stub.cc:31] Could not find cuda drivers.\n"
    "I0000 00:00:1795748702.706552   16174 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
    "/x/y.py:3: UserWarning: a Python warning\n"
    "E0000 00:00:1795748702.8 6644 cuda_platform.cc:52] failed call to cuInit\n"
    "F0000 00:00:1795748702.9 6644 main.cc:1] fatal\n"
)


def test_drop_log_lines_keeps_what_is_not_log_noise():
    lines = LOG.splitlines(keepends=True)
    assert drop_log_lines(LOG, 3) == lines[5] + lines[7]
    assert drop_log_lines(LOG, 2) == lines[5] + lines[6] + lines[7]
    assert drop_log_lines(LOG, 0) == "".join(lines[1:])  # the banner says nothing


def test_output_printed_during_a_wrapped_import_is_filtered_at_the_file_descriptor(tmp_path, monkeypatch, capfd):
    package = tmp_path / "noisy_package"
    package.mkdir()
    (package / "__init__.py").write_text(f"import os\nos.write(2, {LOG.encode()!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    wrap_first_import("noisy_package", lambda execute: run_holding_back_log_lines(execute, 3))
    import noisy_package  # noqa: F401

    sys.modules.pop("noisy_package")
    lines = LOG.splitlines(keepends=True)
    assert capfd.readouterr().err == lines[5] + lines[7]


def test_quiet_tensorflow_leaves_a_level_the_user_set(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert quiet_tensorflow() is False and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    assert quiet_tensorflow() is True and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    with pytest.raises(ValueError, match="level=5"):
        quiet_tensorflow(5)


def test_tensorflow_starts_without_log_lines_after_quiet_tensorflow():
    code = "import tensorflow as tf\nprint(float(tf.constant(1.0) + 1.0))\n"
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    log_line = re.compile(r"^[IWE]\d{4} |^WARNING: All log messages before absl", re.MULTILINE)

    def run(prefix):
        command = [sys.executable, "-c", prefix + code]
        return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)

    plain = run("")
    assert log_line.search(plain.stderr)  # this TensorFlow does print start-up lines here
    quiet = run("from keras_s11.cli import quiet_tensorflow\nquiet_tensorflow()\n")
    assert quiet.returncode == 0 and quiet.stdout == "2.0\n"
    assert not log_line.search(quiet.stderr), quiet.stderr
