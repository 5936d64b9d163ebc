"""Resuming a killed run, and the divergence stop, through scripts/train.py."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_s11.callbacks import OneCycle
from tests.test_train_script import TRAIN, run_tiny

# The default recipe (Keras's SGD, random flips, the weight average, whose state the backup must carry too),
# tiny: 7 steps per epoch on the fixture's 120 images; LRs found by a short range test (30 steps: 10 find no
# range).
RESUMABLE = "--batch-size 16 --epochs 6 --peak-epoch 2 --range-test-steps 30 --no-tta --no-report".split()


def start_tiny(image_folder, out_dir, run_name, *args):
    tiny = ("--width", "4", "--precision", "float32", "--verbose", "0")
    command = [sys.executable, TRAIN, "--data-dir", str(image_folder), *tiny, "--out-dir", str(out_dir)]
    command += ["--run-name", run_name, *args]
    return subprocess.Popen(command, cwd=image_folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_backup(state_path, epochs, process, timeout=120):
    """Polls the backup's state.json until it records `epochs` epochs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if json.loads(state_path.read_text())["epoch"] >= epochs:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no backup of epoch {epochs} (process exit code {process.poll()})")


def load_weights(path):
    from keras_s11.saving import load_model

    return load_model(path, compile=False).get_weights()


def test_killed_run_resumes_to_the_uninterrupted_result(image_folder, tmp_path):
    runs = tmp_path / "runs"
    reference = start_tiny(image_folder, runs, "whole", *RESUMABLE)
    killed = start_tiny(image_folder, runs, "killed", *RESUMABLE)
    wait_for_backup(runs / ".killed.partial" / "backup" / "state.json", 2, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    reference.communicate(timeout=300)
    assert reference.returncode == 0
    partial = runs / ".killed.partial"
    done = json.loads((partial / "backup" / "state.json").read_text())["epoch"]
    assert 2 <= done < 6 and not (runs / "killed").exists()  # killed mid-way, partial folder kept

    resumed = run_tiny(image_folder, runs, "killed", *RESUMABLE)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"after epoch {done}" in resumed.stdout and "LR range test" not in resumed.stdout
    assert sorted(os.listdir(runs)) == ["killed", "whole"]
    whole, again = runs / "whole", runs / "killed"
    assert sorted(os.listdir(again)) == sorted(os.listdir(whole))  # no backup left behind
    config_whole, config_again = (json.loads((r / "config.json").read_text()) for r in (whole, again))
    assert config_again["lr_max_used"] == config_whole["lr_max_used"] and config_again["resumed_from_epoch"] == done
    lrs_whole, lrs_again = (json.loads((r / "lrs.json").read_text()) for r in (whole, again))
    assert len(lrs_again["lrs"]) == 6 * 7 and lrs_again == lrs_whole
    # Same weights, optimizer state and batches from the resumed epoch on: the same numbers.
    history_whole, history_again = (json.loads((r / "history.json").read_text()) for r in (whole, again))
    assert len(history_again["loss"]) == 6 and history_again == history_whole
    csv_whole, csv_again = ((r / "history.csv").read_text() for r in (whole, again))
    assert len(csv_again.splitlines()) == 7 and csv_again == csv_whole
    steps_whole, steps_again = (json.loads((r / "train_steps.json").read_text()) for r in (whole, again))
    assert len(steps_again["loss"]) == 6 * 7 and steps_again == steps_whole
    for a, b in zip(load_weights(again / "model.keras"), load_weights(whole / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_divergence_names_the_lr_and_keeps_the_last_good_epoch(image_folder, tmp_path):
    # LR climbs to 171 in epoch 1 (finite but absurd loss) and diverges in epoch 2.
    args = "--batch-size 16 --epochs 6 --peak-epoch 5 --lr-min 0.01 --lr-max 1000 --no-tta --no-report".split()
    result = run_tiny(image_folder, tmp_path, "nan", *args)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0]
    assert "training diverged" in errors[0] and "at learning rate" in errors[0] and "lower --lr-max" in errors[0]
    assert "--resume --run-name nan" in errors[0]
    lr = float(errors[0].split("at learning rate ")[1].split(";")[0])
    assert 0.01 < lr <= 1000
    assert not (tmp_path / "nan").exists()
    state = json.loads((tmp_path / ".nan.partial" / "backup" / "state.json").read_text())
    assert state["epoch"] >= 1 and all(np.isfinite(state["history"]["loss"]))
    # The LR named is one the one-cycle sets during the epoch after the backup (7 steps an epoch).
    cycle = OneCycle(0.01, 1000, epochs=6, peak_epoch=5)
    assert any(lr == pytest.approx(cycle.lr_at(state["epoch"] + step / 7), rel=1e-3) for step in range(7))
