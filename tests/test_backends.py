"""Training runs on Keras's JAX and PyTorch backends with TensorFlow unimportable.

Each backend runs `tests/backend_run.py` in its own process (a process has
one Keras backend); CI installs jax and torch (`.ci/run`), so nothing here
is skipped. The one-cycle learning rates must equal those of the
TensorFlow backend exactly.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tensorflow_one_cycle():
    """`OneCycle`'s LRs over the child's fit (2 epochs of 4 steps) and `OneCycleSchedule`, on TensorFlow."""
    import keras

    from keras_s11.callbacks import OneCycle
    from keras_s11.schedules import OneCycleSchedule

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    one_cycle = OneCycle(0.01, 0.1, epochs=2, peak_epoch=1)
    x, y = np.zeros((64, 4), "float32"), np.zeros(64, "int32")
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[one_cycle], verbose=0)
    schedule = OneCycleSchedule(0.01, 0.1, steps_per_epoch=4, epochs=2, peak_epoch=1)
    return one_cycle.lrs, [float(schedule(step)) for step in range(9)]


@pytest.fixture(scope="module")
def tensorflow_lrs():
    return tensorflow_one_cycle()


def run_on_backend(script, backend, tmp_path):
    """Runs `tests/<script> OUT.json` on `backend` in a process of its own; returns what it wrote to OUT.json."""
    out = tmp_path / "result.json"
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", script), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # about 30 s on an idle 2-core machine
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_training_runs_without_tensorflow(backend, tmp_path, tensorflow_lrs):
    result = run_on_backend("backend_run.py", backend, tmp_path)
    assert result["backend"] == backend
    assert result["tensorflow_imported"] == []  # blocked imports fail; none got through
    assert result["inputs"] == ["TrainBatches", "EvalBatches"]
    assert result["policy"] == "float32"  # bf16 is chosen on CPUs only for TensorFlow's oneDNN kernels
    assert len(result["range_test_losses"]) == 6 and np.all(np.isfinite(result["range_test_losses"]))
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["tta_accuracy"] <= 1.0
    assert result["reload_max_difference"] < 1e-6
    assert len(result["average_differs_from_last_step"]) == 26 and all(result["average_differs_from_last_step"])
    assert result["untied"] == (backend == "jax")
    assert result["recalibrated_batches"] == 3
    assert len(result["recalibration_changed"]) == 16 and all(result["recalibration_changed"])
    assert "TensorFlow backend" in result["gradcam_error"] and backend in result["gradcam_error"]
    assert result["strategy"] == f"one device ({backend} backend), 1 replica"
    assert "tf.distribute" in result["mirrored_error"] and backend in result["mirrored_error"]
    lrs, schedule = tensorflow_lrs
    assert len(lrs) == 8
    assert result["lrs"] == lrs  # exactly, float for float
    assert result["schedule"] == schedule


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_range_test_and_the_one_cycle_on_arrays_without_tensorflow(backend, tmp_path):
    """`find_lr_range` on NumPy arrays restores the model and repeats with the seed; its picks feed `OneCycle`."""
    result = run_on_backend("own_model_backend_run.py", backend, tmp_path)
    assert result["backend"] == backend
    assert result["tensorflow_imported"] == []
    steps = len(result["lrs"])  # 60, or fewer where the loss diverged at the largest LRs
    assert 50 <= steps <= 60 and len(result["losses"]) == steps and np.all(np.isfinite(result["losses"]))
    np.testing.assert_allclose(result["lrs"], np.geomspace(1e-4, 10.0, 60)[:steps], rtol=1e-12)
    assert result["same_losses_with_the_same_seed"]
    assert result["restored"] and result["lr_restored"]  # weights, Adam's state and the LR, bit for bit
    lr_min, lr_max = result["picks"]
    assert 1e-4 <= lr_min < lr_max <= 10.0, result["warnings"]
    (min_low, min_high), (max_low, max_high) = result["bands"]
    assert min_low <= lr_min <= min_high and max_low <= lr_max <= max_high
    # 4 steps an epoch, 2 epochs, the peak at epoch 1: LRMIN, up to LRMAX at step 4, down again.
    expected = [lr_min + (lr_max - lr_min) * min(s / 4, 2 - s / 4) for s in range(8)]
    np.testing.assert_allclose(result["one_cycle_lrs"], expected, rtol=1e-6)
    assert len(result["one_cycle_losses"]) == 2 and np.all(np.isfinite(result["one_cycle_losses"]))
    # Each input kind (arrays, a list or dict of them for two inputs, a PyDataset) and optimizer kind.
    kinds = ["arrays", "list of arrays", "dict of arrays", "PyDataset", "SGD", "AdamW", "LossScaleOptimizer"]
    assert sorted(result["variants"]) == sorted(kinds)
    for kind, outcome in result["variants"].items():
        assert outcome["restored"] and outcome["steps"] >= 20, (kind, outcome)
        assert 1e-4 <= outcome["picks"][0] <= outcome["picks"][1] <= 10.0, (kind, outcome)
