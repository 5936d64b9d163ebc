"""`import keras_s11` alone lets plain `keras.saving.load_model` reload a compiled run."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_s11.import_hooks import wrap_first_import
from keras_s11.losses import SparseCategoricalCrossentropy
from keras_s11.model import build_model
from keras_s11.optimizers import VariableMomentumSGD
from keras_s11.schedules import OneCycleSchedule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run in a fresh interpreter: nothing of keras_s11 but the package import itself.
RELOAD = """
import json, sys
import numpy as np
{imports}
keras_imported_by_keras_s11 = "keras" in sys.modules
import keras
model = keras.saving.load_model(sys.argv[1])
optimizer = model.optimizer
print(json.dumps({{
    "keras_imported_by_keras_s11": keras_imported_by_keras_s11,
    "tensorflow_imported": "tensorflow" in sys.modules,
    "backend": keras.backend.backend(),
    "compiled": model.compiled,
    "optimizer": type(optimizer).__name__,
    "iterations": int(optimizer.iterations),
    "momentum_variable": float(optimizer.momentum_variable),
    "nesterov": optimizer.nesterov,
    "schedule": type(optimizer._learning_rate).__name__,
    "schedule_config": optimizer._learning_rate.get_config(),
    "loss": type(model.loss).__name__,
    "label_smoothing": model.loss.label_smoothing,
    "batchnorm": sorted({{type(layer).__name__ for layer in model.layers if "bn" in layer.name}}),
    "predictions": model.predict(np.load(sys.argv[2]), verbose=0).tolist(),
}}))
"""


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A width-4 model compiled as train.py compiles it (plus a schedule), one step trained, saved."""
    folder = tmp_path_factory.mktemp("saved_run")
    keras.utils.set_random_seed(0)
    model = build_model(width=4)
    schedule = OneCycleSchedule(0.04, 0.4, steps_per_epoch=3, epochs=4, peak_epoch=1)
    model.compile(
        optimizer=VariableMomentumSGD(schedule, momentum=0.9, nesterov=True),
        loss=SparseCategoricalCrossentropy(label_smoothing=0.2),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    model.fit(images, np.arange(8) % 10, batch_size=8, epochs=1, verbose=0, shuffle=False)
    model.optimizer.momentum_variable.assign(0.85)  # state a reload must keep
    model.save(folder / "model.keras")
    np.save(folder / "images.npy", images)
    return folder, model.predict(images, verbose=0)


def reload_in_fresh_process(folder, imports, backend="tensorflow"):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    script = RELOAD.format(imports=imports)
    command = [sys.executable, "-c", script, str(folder / "model.keras"), str(folder / "images.npy")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_restored(restored, predictions):
    assert restored["compiled"] is True
    assert restored["optimizer"] == "VariableMomentumSGD" and restored["nesterov"] is True
    assert restored["iterations"] == 1
    assert restored["momentum_variable"] == pytest.approx(0.85)
    assert restored["schedule"] == "OneCycleSchedule"
    assert restored["schedule_config"] == {
        "lr_min": 0.04,
        "lr_max": 0.4,
        "steps_per_epoch": 3,
        "epochs": 4,
        "peak_epoch": 1,
        "mode": "linear",
    }
    assert restored["loss"] == "SparseCategoricalCrossentropy" and restored["label_smoothing"] == 0.2
    assert restored["batchnorm"] == ["FusedBatchNormalization"]
    np.testing.assert_allclose(restored["predictions"], predictions, atol=1e-6)


def test_import_keras_s11_alone_registers_everything_without_importing_keras(saved_run):
    folder, predictions = saved_run
    restored = reload_in_fresh_process(folder, "import keras_s11")
    assert restored["keras_imported_by_keras_s11"] is False  # registration waits for Keras's own import
    check_restored(restored, predictions)


def test_keras_imported_first_then_keras_s11(saved_run):
    folder, predictions = saved_run
    check_restored(reload_in_fresh_process(folder, "import keras\nimport keras_s11"), predictions)


def test_other_backend_reloads_without_tensorflow(saved_run):
    pytest.importorskip("jax")
    folder, predictions = saved_run
    restored = reload_in_fresh_process(folder, "import keras_s11", backend="jax")
    assert restored["backend"] == "jax" and restored["tensorflow_imported"] is False
    check_restored(restored, predictions)


def test_wrap_first_import_runs_around_the_first_import_only(tmp_path, monkeypatch):
    package = tmp_path / "hooked_package"
    package.mkdir()
    (package / "__init__.py").write_text("import sys\nsys.events.append('executed')\nVALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    events = []
    monkeypatch.setattr(sys, "events", events, raising=False)

    def around(execute):
        events.append("before")
        execute()
        events.append(f"after, VALUE={sys.modules['hooked_package'].VALUE}")

    wrap_first_import("hooked_package", around)
    assert events == []  # nothing imported yet
    import hooked_package

    assert events == ["before", "executed", "after, VALUE=3"]
    assert type(hooked_package.__loader__).__name__ == "SourceFileLoader"  # no wrapper left behind
    wrap_first_import("hooked_package", around)  # imported already: runs now
    assert events[3:] == ["before", "after, VALUE=3"]
    sys.modules.pop("hooked_package")
    with pytest.raises(ValueError, match="name='a.b'"):
        wrap_first_import("a.b", around)
