import json
import os
import subprocess
import sys

import pytest

from keras_s11.lr_finder import suggest_lr_range

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "scripts", "train.py")


# What a complete run folder holds (range test, report and TensorBoard on).
RUN_FILES = [
    "config.json",
    "history.csv",
    "history.json",
    "lr_range_test.json",
    "lr_range_test.png",
    "lrs.json",
    "metrics.json",
    "model.keras",
    "report",
    "tensorboard",
    "train_steps.json",
]


def run_train(*args, cwd):
    return subprocess.run([sys.executable, TRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def run_tiny(image_folder, out_dir, run_name, *args):
    """A quick run on the fixture folders: width 4, float32, quiet."""
    tiny = ("--width", "4", "--precision", "float32", "--verbose", "0")
    common = ("--data-dir", str(image_folder), *tiny, "--out-dir", str(out_dir), "--run-name", run_name)
    return run_train(*common, *args, cwd=image_folder)


def test_tiny_end_to_end_run_writes_a_complete_run_folder(image_folder, tmp_path):
    result = run_tiny(
        image_folder,
        tmp_path / "runs",
        "tiny",
        *"--batch-size 32 --epochs 2 --peak-epoch 1 --range-test-steps 10".split(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LRMIN = " in result.stdout and "LRMAX = " in result.stdout
    run = tmp_path / "runs" / "tiny"
    assert sorted(os.listdir(run)) == RUN_FILES
    assert os.listdir(tmp_path / "runs") == ["tiny"]  # no temporary folder left
    assert "Accuracy of airplane   : " in result.stdout and (run / "report" / "report.md").exists()
    assert {"lr_range_test.png", "lr_per_step.png", "training_curves.png", "gradcam.png"} <= set(
        os.listdir(run / "report")
    )
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    lrs = json.loads((run / "lrs.json").read_text())
    history = json.loads((run / "history.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and "test_accuracy_flip_tta" in metrics
    assert config["lr_min_used"] == metrics["lr_min"] < metrics["lr_max"] == config["lr_max_used"]
    assert len(lrs["lrs"]) == 2 * lrs["steps_per_epoch"] == 2 * (120 // 32)
    assert lrs["lrs"][0] == pytest.approx(metrics["lr_min"]) and max(lrs["lrs"]) == pytest.approx(metrics["lr_max"])
    assert len(history["val_accuracy"]) == 2 and "learning_rate" in history
    steps = json.loads((run / "train_steps.json").read_text())
    assert len(steps["loss"]) == len(steps["accuracy"]) == len(lrs["lrs"])
    # The saved model reloads (safe mode) and reproduces the reported accuracy.
    from keras_s11.data import load_cifar10
    from keras_s11.evaluation import accuracy, predict_probabilities
    from keras_s11.saving import load_model

    _, (x_test, y_test) = load_cifar10(image_folder)
    model = load_model(run / "model.keras")
    assert accuracy(predict_probabilities(model, x_test), y_test) == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_given_lrs_skip_the_range_test_and_momentum_cycling_saves(image_folder, tmp_path):
    args = "--batch-size 60 --epochs 2 --peak-epoch 0.5 --lr-min 0.01 --lr-max 0.1 --momentum-cycle 0.95 0.85"
    result = run_tiny(image_folder, tmp_path, "given", *args.split(), "--schedule", "cosine", "--no-tta", "--no-report")
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "given"
    assert not (run / "report").exists()
    assert not (run / "lr_range_test.json").exists()
    lrs = json.loads((run / "lrs.json").read_text())
    # Two steps per epoch, so the peak (epoch 0.5) is step 1.
    assert lrs["lrs"][:2] == pytest.approx([0.01, 0.1], rel=1e-6)
    assert lrs["momentums"][:2] == pytest.approx([0.95, 0.85], rel=1e-6)
    assert "test_accuracy_flip_tta" not in json.loads((run / "metrics.json").read_text())


def test_range_test_only_saves_the_curve_and_stops(image_folder, tmp_path):
    result = run_tiny(image_folder, tmp_path, "rt", *"--batch-size 32 --range-test-steps 5 --range-test-only".split())
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "rt")) == ["config.json", "lr_range_test.json", "lr_range_test.png", "tensorboard"]
    curve = json.loads((tmp_path / "rt" / "lr_range_test.json").read_text())
    assert len(curve["lrs"]) == 5
    assert (curve["lr_min"], curve["lr_max"]) == suggest_lr_range(curve["lrs"], curve["smoothed_losses"])
