import importlib.util
import json
import os
import subprocess
import sys

import pytest

from keras_s11.lr_finder import pick_bands, suggest_lr_range

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
        *"--batch-size 32 --epochs 2 --peak-epoch 1 --range-test-steps 30".split(),
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


def test_given_lrs_skip_the_range_test(image_folder, tmp_path):
    args = "--batch-size 60 --epochs 2 --peak-epoch 0.5 --lr-min 0.01 --lr-max 0.1"
    result = run_tiny(image_folder, tmp_path, "given", *args.split(), "--schedule", "cosine", "--no-tta", "--no-report")
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "given"
    assert not (run / "report").exists()
    assert not (run / "lr_range_test.json").exists()
    lrs = json.loads((run / "lrs.json").read_text())
    # Two steps per epoch, so the peak (epoch 0.5) is step 1.
    assert lrs["lrs"][:2] == pytest.approx([0.01, 0.1], rel=1e-6)
    assert "test_accuracy_flip_tta" not in json.loads((run / "metrics.json").read_text())


def test_range_test_only_saves_the_curve_and_stops_and_a_second_run_picks_the_same(image_folder, tmp_path):
    flags = "--batch-size 32 --range-test-steps 5 --range-test-only".split()
    for name in ("rt", "rt-again"):
        result = run_tiny(image_folder, tmp_path, name, *flags)
        assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "rt")) == [
        "config.json",
        "lr_range_test.json",
        "lr_range_test.png",
        "tensorboard",
    ]
    curve = json.loads((tmp_path / "rt" / "lr_range_test.json").read_text())
    assert len(curve["lrs"]) == len(curve["losses"]) == len(curve["smoothed_losses"]) == 5
    picks = suggest_lr_range(curve["lrs"], curve["smoothed_losses"], losses=curve["losses"])
    assert (curve["lr_min"], curve["lr_max"]) == picks
    bands = pick_bands(curve["lrs"], curve["losses"], curve["smoothed_losses"], *picks)
    assert (tuple(curve["lr_min_band"]), tuple(curve["lr_max_band"])) == bands
    again = json.loads((tmp_path / "rt-again" / "lr_range_test.json").read_text())
    assert again == curve  # the same seed in a new process: the same curve, picks and bands


# --- bad input and interruptions, in-process (`main(argv)`) ------------------------------------


def load_main():
    spec = importlib.util.spec_from_file_location("train_script", TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def main_fails(argv, capsys):
    """(exit status, the stderr lines) of `scripts/train.py argv` run in this process."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        load_main()(argv)
    return info.value.code, capsys.readouterr().err.strip().splitlines()


def tiny_argv(image_folder, out_dir, run_name, *args):
    tiny = ["--width", "4", "--precision", "float32", "--verbose", "0", "--batch-size", "32", "--no-report"]
    return ["--data-dir", str(image_folder), *tiny, "--out-dir", str(out_dir), "--run-name", run_name, *args]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--weight-decay", "nan"], "argument --weight-decay: must be a finite number, got nan"),
        (["--weight-decay", "inf"], "argument --weight-decay: must be a finite number, got inf"),
        (["--momentum", "nan"], "argument --momentum: must be a finite number, got nan"),
        (["--label-smoothing=-inf"], "argument --label-smoothing: must be a finite number, got -inf"),
        (["--lookahead", "5", "nan"], "argument --lookahead: must be a finite number, got nan"),
        (["--peak-epoch", "inf"], "argument --peak-epoch: must be a finite number > 0, got inf"),
        (["--range-test-end", "nan"], "argument --range-test-end: must be a finite number > 0, got nan"),
        (["--seed", "99999999999"], "argument --seed: must be in 0..4294967295, got 99999999999"),
        (["--seed", "1.5"], "argument --seed: expected an integer, got '1.5'"),
    ],
)
def test_non_finite_floats_and_out_of_range_seeds_are_refused_when_parsed(args, message, tmp_path, capsys):
    code, lines = main_fails(["--data-dir", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path), *args], capsys)
    assert code == 2 and lines == [f"error: {message}"]
    assert os.listdir(tmp_path) == []


def test_a_run_name_in_use_is_refused_before_the_data_is_read(tmp_path, capsys):
    from keras_s11.run_folder import RunFolder

    with RunFolder(tmp_path / "busy"):  # a first run, still going
        # No data folder: the name is checked first, and no TensorFlow starts.
        code, lines = main_fails(
            ["--data-dir", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path), "--run-name", "busy"], capsys
        )
        assert code == 2 and len(lines) == 1
        assert lines[0].startswith("error: --run-name busy is in use: another process is writing ")
        assert lines[0].endswith(".busy.partial") and os.listdir(tmp_path) == [".busy.partial"]


def test_a_run_folder_that_appears_meanwhile_is_one_error_line(image_folder, tmp_path, capsys, monkeypatch):
    import keras_s11.training

    load = keras_s11.training._load_data

    def load_while_another_run_finishes(config):
        (tmp_path / "runs" / "race").mkdir(parents=True)
        return load(config)

    monkeypatch.setattr(keras_s11.training, "_load_data", load_while_another_run_finishes)
    code, lines = main_fails(tiny_argv(image_folder, tmp_path / "runs", "race"), capsys)
    assert code == 1 and len(lines) == 1 and "cannot write the run folder" in lines[0] and "already exists" in lines[0]
    assert os.listdir(tmp_path / "runs") == ["race"]


def test_interrupts_say_what_is_left_and_a_damaged_backup_is_named(image_folder, tmp_path, capsys, monkeypatch):
    import keras_s11.lr_finder
    from keras_s11.callbacks import StepHistory

    runs = tmp_path / "runs"

    # Ctrl-C in the range test, before the first epoch: nothing to resume, nothing left.
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(keras_s11.lr_finder, "find_lr_range", interrupt)
        code, lines = main_fails(tiny_argv(image_folder, runs, "early", "--range-test-steps", "3"), capsys)
    assert code == 130 and lines == [
        "error: interrupted before the first epoch ended: nothing was kept, there is nothing to resume"
    ]
    assert os.listdir(runs) == []

    # Ctrl-C in epoch 2: epoch 1 is backed up, and the line says how to continue.
    begin = StepHistory.on_epoch_begin

    def interrupt_epoch_2(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt
        begin(self, epoch, logs)

    args = ["--epochs", "3", "--peak-epoch", "1", "--lr-min", "0.01", "--lr-max", "0.1", "--no-tta"]
    with monkeypatch.context() as patch:
        patch.setattr(StepHistory, "on_epoch_begin", interrupt_epoch_2)
        code, lines = main_fails(tiny_argv(image_folder, runs, "later", *args), capsys)
    assert code == 130 and lines == [
        "error: interrupted; the state after epoch 1 is kept: rerun with --resume --run-name later to continue"
    ]
    backup = runs / ".later.partial" / "backup"
    state = json.loads((backup / "state.json").read_text())
    assert state["epoch"] == 1

    # The backup's model file cut short: one line naming it, before any work, nothing changed.
    model_file = backup / state["model_file"]
    model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
    before = sorted((p.name, p.stat().st_size) for p in backup.iterdir())
    code, lines = main_fails(tiny_argv(image_folder, runs, "later", *args, "--resume"), capsys)
    assert code == 2 and len(lines) == 1, lines
    assert f"the backup is damaged: {model_file} is a damaged or truncated .keras file" in lines[0]
    assert lines[0].endswith("--no-resume")
    assert sorted((p.name, p.stat().st_size) for p in backup.iterdir()) == before


def test_the_fast_recipe_is_one_flag_and_flags_given_as_well_win():
    import runpy

    parse_args = runpy.run_path(TRAIN)["parse_args"]
    default, fast, longer = (
        parse_args([]),
        parse_args(["--recipe", "fast"]),
        parse_args(["--recipe=fast", "--epochs", "16"]),
    )
    assert (default.recipe, default.epochs, default.peak_epoch, default.prep_init) == ("default", 24, 5.0, "same")
    assert (fast.recipe, fast.epochs, fast.peak_epoch, fast.prep_init) == ("fast", 12, 2.5, "whiten")
    assert (longer.epochs, longer.peak_epoch, longer.prep_init) == (16, 2.5, "whiten")
    help_text = runpy.run_path(TRAIN)["build_parser"]().format_help()
    assert "--recipe {default,fast}" in help_text and "(default: 24; fast: 12)" in help_text
