"""experiments/accuracy_against_epochs.py: the table of test accuracy against epochs, from run folders."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments"))

import accuracy_against_epochs as aae  # noqa: E402


def write_run(runs_dir, name, epochs, seed, accuracy, train_seconds, range_test_seconds, width=64, flip=None):
    folder = runs_dir / name
    folder.mkdir(parents=True)
    config = {"epochs": epochs, "seed": seed, "holdout": None, "width": width, "started": f"2026-12-0{seed + 1}T10:00"}
    metrics = {"train_seconds": train_seconds, "test_accuracy": accuracy}
    if flip is not None:
        metrics["test_accuracy_flip_tta"] = flip
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "train.log").write_text(f"Model: resnet9\nLR range test took {range_test_seconds} s\nEpoch 1/{epochs}\n")


def test_rows_give_median_min_and_max_over_seeds_and_minutes_with_the_range_test(tmp_path):
    write_run(tmp_path, "full-24ep-ls0.1-s0", 24, 0, 0.9130, 3561.0, 147, flip=0.92)
    write_run(tmp_path, "full-24ep-ls0.1-s1", 24, 1, 0.9064, 3700.0, 140, flip=0.91)
    write_run(tmp_path, "full-24ep-ls0.1-s2", 24, 2, 0.9066, 3600.0, 180, flip=0.915)
    write_run(tmp_path, "full-12ep-whiten-s0", 12, 0, 0.9000, 1740.0, 60)
    (tmp_path / "full-12ep-whiten-s1").mkdir()  # a run under way: no metrics yet
    found = aae.collect(tmp_path)
    assert sorted(found) == [("default", 24), ("fast", 12)]
    lines = aae.table(found).splitlines()
    assert lines[2] == (
        "| default | 24 | 0, 1, 2 | 90.66 (90.64-91.30) | 91.50 (91.00-92.00) | - | 63.0 (61.8-64.0) "
        "| 150 (148-154) | 2026-12-01, 2026-12-02, 2026-12-03 |"
    )
    assert lines[3] == "| fast | 12 | 0 | 90.00 (90.00-90.00) | - | - | 30.0 (30.0-30.0) | 145 (145-145) | 2026-12-01 |"
    aae.draw(found, tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 0


def test_a_run_that_is_not_what_its_name_says_is_refused(tmp_path):
    write_run(tmp_path, "full-12ep-default-s0", 12, 0, 0.88, 1000.0, 60, width=32)
    with pytest.raises(ValueError, match="is not a full-width 12-epoch run"):
        aae.collect(tmp_path)


def test_a_run_whose_log_lacks_the_range_test_time_is_refused(tmp_path):
    write_run(tmp_path, "full-12ep-default-s0", 12, 0, 0.88, 1000.0, 60)
    log = tmp_path / "full-12ep-default-s0" / "train.log"
    log.write_text("Model: resnet9\nEpoch 1/12\n")
    with pytest.raises(ValueError, match="does not say how long the range test took"):
        aae.collect(tmp_path)
