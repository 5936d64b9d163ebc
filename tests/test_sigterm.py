"""SIGTERM is handled like Ctrl-C: one line saying what is kept and how to resume, exit status 143.

In-process through `keras_s11.cli.run_script`, and through scripts/train.py
in a subprocess terminated mid-run, then resumed to the uninterrupted result.
"""

import json
import os
import signal

import numpy as np
import pytest

from keras_s11 import cli
from tests.test_resume import RESUMABLE, load_weights, start_tiny, wait_for_backup
from tests.test_train_script import run_tiny


def terminate_self(argv):
    """A script's `main` that receives SIGTERM, as from `kill PID`, and would go on."""
    os.kill(os.getpid(), signal.SIGTERM)
    signal.sigtimedwait([], 1)  # the handler runs at the next bytecode; this is not reached
    return "finished"


def test_sigterm_takes_ctrl_c_path_with_exit_status_143(capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as info:
        cli.run_script(terminate_self, [], interrupted="interrupted before the run started; nothing was written")
    assert info.value.code == 143 == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: terminated (SIGTERM) before the run started; nothing was written"
    ]
    assert signal.getsignal(signal.SIGTERM) is before  # the handler was the script's only

    # Ctrl-C afterwards is Ctrl-C again.
    def interrupt(argv):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as info:
        cli.run_script(interrupt, [])
    assert info.value.code == 130 and capsys.readouterr().err.strip() == "error: interrupted"
    assert cli.interruption() == ("interrupted", 130)


def test_sigterm_with_debug_shows_the_traceback_and_still_exits_143(capsys):
    with pytest.raises(SystemExit) as info:
        cli.run_script(terminate_self, ["--debug"])
    assert info.value.code == 143
    assert cli.interruption() == ("interrupted", 130)  # nothing left behind for a later Ctrl-C
    err = capsys.readouterr().err
    assert "Traceback" in err and "Terminated: terminated (SIGTERM)" in err


def assert_same_run(again, whole, epochs, steps_per_epoch):
    """Two run folders with the same files, LRs, history, per-step losses and final weights."""
    assert sorted(os.listdir(again)) == sorted(os.listdir(whole))  # no backup left behind
    for name in ("lrs.json", "history.json", "train_steps.json"):
        a, b = (json.loads((folder / name).read_text()) for folder in (again, whole))
        assert a == b, name
    assert len(json.loads((again / "history.json").read_text())["loss"]) == epochs
    assert len(json.loads((again / "lrs.json").read_text())["lrs"]) == epochs * steps_per_epoch
    assert (again / "history.csv").read_text() == (whole / "history.csv").read_text()
    for a, b in zip(load_weights(again / "model.keras"), load_weights(whole / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sigterm_mid_run_keeps_the_last_epoch_and_resumes_to_the_uninterrupted_result(image_folder, tmp_path):
    runs = tmp_path / "runs"
    reference = start_tiny(image_folder, runs, "whole", *RESUMABLE)
    terminated = start_tiny(image_folder, runs, "term", *RESUMABLE)
    wait_for_backup(runs / ".term.partial" / "backup" / "state.json", 1, terminated)
    terminated.send_signal(signal.SIGTERM)
    out, err = terminated.communicate(timeout=120)
    reference.communicate(timeout=300)
    assert reference.returncode == 0

    assert terminated.returncode == 143, err[-2000:]
    done = json.loads((runs / ".term.partial" / "backup" / "state.json").read_text())["epoch"]
    assert 1 <= done < 6 and not (runs / "term").exists()
    line = (
        f"error: terminated (SIGTERM); the state after epoch {done} is kept: "
        "rerun with --resume --run-name term to continue"
    )
    # One line, the last (TensorFlow's start-up lines may come before it: the tests set its log level).
    assert [text for text in err.splitlines() if text.startswith("error:")] == [line], err[-2000:]
    assert err.strip().splitlines()[-1] == line
    assert "Traceback" not in err + out

    resumed = run_tiny(image_folder, runs, "term", *RESUMABLE, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"after epoch {done}" in resumed.stdout and "LR range test" not in resumed.stdout
    config = json.loads((runs / "term" / "config.json").read_text())
    assert config["resumed_from_epoch"] == done
    assert config["lr_max_used"] == json.loads((runs / "whole" / "config.json").read_text())["lr_max_used"]
    assert_same_run(runs / "term", runs / "whole", epochs=6, steps_per_epoch=7)
