"""benchmarks/gpu_check.py runs its whole flow in a tiny CPU setting (the GPU numbers come from a lent machine)."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import gpu_check  # noqa: E402


def test_tiny_setting_runs_range_test_training_and_evaluation_in_a_child(image_folder, tmp_path):
    # PyTorch starts quickest on a CPU; JAX runs the same code (tests/test_backends.py).
    out = tmp_path / "gpu_check.json"
    results = gpu_check.main(["--data-dir", str(image_folder), "--tiny", "--backends", "torch", "--json", str(out)])
    assert [r["backend"] for r in results] == ["torch"]
    result = json.loads(out.read_text())[0]
    assert result["device"] == "cpu" and result["policy"] == "float32" and result["jit_compile"] is False
    assert (result["train_images"], result["test_images"]) == (120, 40)
    assert len(result["epoch_seconds"]) == gpu_check.TINY["epochs"]
    assert result["range_test"]["lr_min"] <= result["range_test"]["lr_max"]
    assert 0.0 <= result["test_accuracy"] <= 1.0


def test_child_command_carries_the_settings():
    args = gpu_check.parse_args(["--data-dir", "d", "--tiny"])
    argv = gpu_check.child_argv(args, "jax")
    assert argv[argv.index("--epochs") + 1] == "2" and argv[argv.index("--width") + 1] == "8"
    assert "--child" in argv and argv[argv.index("--data-dir") + 1] == "d"
