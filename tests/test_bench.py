"""The benchmark's building blocks run and count what they claim (no timings asserted)."""

import json
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import bench  # noqa: E402


def test_median_seconds_runs_warmup_then_timed_calls():
    calls = []
    seconds = bench.median_seconds(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5
    assert seconds >= 0


def test_pipeline_and_callback_figures_are_finite():
    assert math.isfinite(bench.pipeline_throughput(batch_size=32, batches=2, num_images=128))
    assert math.isfinite(bench.pipeline_throughput(batch_size=32, batches=2, num_images=128, kind="pydataset"))
    assert math.isfinite(bench.callback_overhead_ms(steps=5))


def test_torch_reference_matches_the_keras_parameter_count():
    pytest.importorskip("torch")
    from keras_s11.model import build_model
    from keras_s11.torch_reference import ResNet9

    torch_count = sum(p.numel() for p in ResNet9().parameters() if p.requires_grad)
    keras_count = sum(int(math.prod(w.shape)) for w in build_model().trainable_weights)
    assert torch_count == keras_count == 6_573_130
    assert bench.torch_train_step(bf16=True, batch_size=4, warmup=1, repeats=1) > 0


def test_training_flops_count_the_convolutions_and_the_fc_layer():
    from keras_s11.model import build_model

    # width 1: convs 3>1 (32x32), 1>2 (32x32), 2>2 twice (16x16), 2>4 (16x16), 4>8 (8x8), 8>8 twice (4x4); FC 8>10.
    macs = 32 * 32 * 9 * (3 * 1 + 1 * 2) + 16 * 16 * 9 * (2 * 2 * 2 + 2 * 4) + 8 * 8 * 9 * 4 * 8
    macs += 4 * 4 * 9 * 8 * 8 * 2 + 8 * 10
    assert bench.training_flops_per_image(build_model(width=1)) == 3 * 2 * macs


def test_backend_comparison_runs_a_backend_in_its_own_process(tmp_path, capsys):
    # One backend keeps the test short (each child pays Keras's start-up); PyTorch
    # is the quickest to start. The parent process stays on TensorFlow.
    out = tmp_path / "backends.json"
    tiny = ["--batch-size", "4", "--width", "2", "--repeats", "1", "--warmup", "1"]
    bench.main(["--backends-only", "--backends", "torch", *tiny, "--json", str(out)])
    result = json.loads(out.read_text())["backends"]
    assert list(result) == ["torch"]
    assert result["torch"]["auto"] == "float32"
    assert result["torch"]["img_per_s"]["float32"] > 0
    assert "torch" in capsys.readouterr().out
