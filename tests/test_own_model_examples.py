"""The examples of docs/own_model.md run, each in quick mode in a process of its own, and write their figure."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SHARED_CIFAR10

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
NUMBER = r"[0-9.e+-]+"


@pytest.mark.parametrize(
    "name, figure, score",
    [
        ("regression", "regression_lr_range_test.png", "test mse"),
        ("sequence", "sequence_lr_range_test.png", "test accuracy"),
        ("convnet", "convnet_lr_range_test.png", "test accuracy"),
    ],
)
def test_an_example_runs_the_range_test_the_one_cycle_and_the_constant_lr(name, figure, score, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    script = os.path.join(EXAMPLES, f"own_model_{name}.py")
    run = subprocess.run(
        [sys.executable, script, "--quick", "--out-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # about 10 s each on an idle 2-core machine
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    picks = re.search(rf"range test: LRMIN=({NUMBER}) .*LRMAX=({NUMBER}) ", out)
    assert picks and float(picks[1]) < float(picks[2]), out
    assert re.search(rf"one cycle {picks[1]} > {picks[2]}, 2 epochs: {score} {NUMBER}", out), out
    assert re.search(rf"constant LR {NUMBER}, 2 epochs: {score} {NUMBER}", out), out
    assert (tmp_path / figure).stat().st_size > 10_000  # a PNG of the curves
    if name == "convnet":
        assert ("from " + str(SHARED_CIFAR10)) in out if SHARED_CIFAR10.is_dir() else "generated images" in out


def test_the_convnet_example_reads_class_folders_and_falls_back_to_generated_images(image_folder):
    sys.path.insert(0, EXAMPLES)
    try:
        import own_model_convnet
    finally:
        sys.path.remove(EXAMPLES)
    images, labels = own_model_convnet.load_folders(str(image_folder), "train", limit=3)
    assert images.shape == (30, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 3))  # the class folders in label order
    images, labels = own_model_convnet.generated(20, seed=0)
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(20) % 10)
