"""Faults of the machine: a full disk, broken weights, a busy folder, each worded as what it is."""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_s11.cli import describe_os_error
from keras_s11.model_file import ModelFileError
from keras_s11.run_folder import write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL = OSError(errno.ENOSPC, "No space left on device")
TINY = dict(width=4, precision="float32", verbose=0, batch_size=32, epochs=3, peak_epoch=1, tensorboard=False)
TINY.update(lr_min=0.01, lr_max=0.1, report=False, tta=False)


def run_script_child(body):
    """stdout and stderr, merged as on a terminal, of `run_script(main)` where `main` runs `body`."""
    code = (
        "import sys\n"
        "from keras_s11.cli import run_script\n"
        "def main(argv):\n" + "".join(f"    {line}\n" for line in body.splitlines()) + "run_script(main)\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    return result.returncode, result.stdout


def test_an_error_after_a_progress_bar_starts_a_line_of_its_own():
    body = (
        "import errno\n"
        "sys.stdout.write('12/87 [===>......] - ETA: 1:02 - loss: 2.1')\n"
        "sys.stdout.flush()\n"
        "raise OSError(errno.ENOSPC, 'No space left on device', 'runs/x/model.keras')"
    )
    code, output = run_script_child(body)
    assert code == 1
    assert output.splitlines() == [
        "12/87 [===>......] - ETA: 1:02 - loss: 2.1",
        "error: no space left on the device writing runs/x/model.keras",
    ]


@pytest.mark.parametrize(
    "error, line",
    [
        ("OSError(errno.EDQUOT, 'Disk quota exceeded', 'out/a.png')", "disk quota exceeded writing out/a.png"),
        ("OSError(errno.EROFS, 'Read-only file system', 'ro/b.json')", "read-only file system writing ro/b.json"),
        ("PermissionError(errno.EACCES, 'Permission denied', 'c.onnx')", "permission denied writing c.onnx"),
        ("RunFolderBusyError('reports/r is being written by another process')", None),
    ],
)
def test_expected_conditions_are_not_worded_as_unexpected(error, line):
    body = f"import errno\nfrom keras_s11.run_folder import RunFolderBusyError\nraise {error}"
    code, output = run_script_child(body)
    expected = line or "reports/r is being written by another process"
    assert code == 1 and output.splitlines() == [f"error: {expected}"]


def test_a_bug_is_still_unexpected_and_stays_on_one_line():
    code, output = run_script_child("print('before')\nraise KeyError('x')")
    assert code == 1 and output.splitlines()[0] == "before"
    assert output.splitlines()[1].startswith("error: unexpected KeyError: 'x' (rerun with --debug")


def test_describe_os_error_knows_only_the_machines_faults():
    assert describe_os_error(FULL) == "no space left on the device"
    assert describe_os_error(OSError(errno.ENOENT, "No such file", "x")) is None
    assert describe_os_error(ValueError("x")) is None


def test_a_full_disk_leaves_the_previous_json_whole_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    write_json(path, {"epoch": 1})

    def dump_half(data, file, **kwargs):
        file.write('{"epo')
        raise FULL

    monkeypatch.setattr(json, "dump", dump_half)
    with pytest.raises(OSError):
        write_json(path, {"epoch": 2})
    assert os.listdir(tmp_path) == ["state.json"] and json.loads(path.read_text()) == {"epoch": 1}


def test_a_full_disk_during_a_backup_keeps_the_previous_backup_whole(tmp_path, monkeypatch):
    from keras_s11.callbacks import TrainingBackup, restore_backup
    from tests.helpers import tiny_dataset, tiny_model

    model = tiny_model(lr=0.1, momentum=0.9)
    ds, _, _ = tiny_dataset(batches=2)
    backup = TrainingBackup(tmp_path / "backup")
    model.fit(ds, epochs=1, callbacks=[backup], verbose=0)
    saved = [np.array(w) for w in model.get_weights()]
    save = model.save

    def save_half(path, *args, **kwargs):
        save(path, *args, **kwargs)
        with open(path, "r+b") as file:
            file.truncate(100)
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(model, "save", save_half)
    with pytest.raises(OSError, match="No space left"):
        model.fit(ds, epochs=2, initial_epoch=1, callbacks=[backup], verbose=0)
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-0001.keras", "state.json"]
    fresh = tiny_model(lr=0.1, momentum=0.9)
    assert restore_backup(fresh, tmp_path / "backup")["epoch"] == 1
    for a, b in zip(saved, fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_full_disk_in_training_names_what_is_kept_and_resume_ends_as_an_uninterrupted_run(
    image_folder, tmp_path, monkeypatch
):
    from keras_s11.callbacks import TrainingBackup
    from keras_s11.saving import load_model
    from keras_s11.training import TrainingError, train

    settings = dict(TINY, data_dir=str(image_folder), out_dir=str(tmp_path / "runs"))
    whole = train(run_name="whole", **settings)
    end_of_epoch = TrainingBackup.on_epoch_end

    def disk_fills_in_epoch_2(self, epoch, logs=None):
        if epoch == 1:
            raise OSError(
                errno.ENOSPC, "No space left on device", os.path.join(self.backup_dir, "tmp-epoch-0002.keras")
            )
        end_of_epoch(self, epoch, logs)

    monkeypatch.setattr(TrainingBackup, "on_epoch_end", disk_fills_in_epoch_2)
    with pytest.raises(TrainingError) as info:
        train(run_name="full", **settings)
    message = str(info.value)
    assert message.startswith("no space left on the device writing ") and "tmp-epoch-0002.keras" in message
    assert "the state after epoch 1 is kept" in message and "`resume=True` and `run_name=full`" in message
    assert not (tmp_path / "runs" / "full").exists()

    monkeypatch.setattr(TrainingBackup, "on_epoch_end", end_of_epoch)  # space freed
    resumed = train(run_name="full", resume=True, **settings)
    assert resumed.history == whole.history
    weights = (load_model(os.path.join(r.run_path, "model.keras")).get_weights() for r in (whole, resumed))
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def nan_model(path):
    from keras_s11.model import build_model

    model = build_model(width=4)
    kernel = model.get_layer("layer1_conv").kernel
    values = kernel.numpy()
    values[0, 0, 0, :3] = np.nan
    kernel.assign(values)
    model.save(path)
    return path


def test_loading_a_model_with_nan_weights_names_the_first_bad_weight(tmp_path):
    from keras_s11.saving import load_model

    path = nan_model(tmp_path / "nan.keras")
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(info.value) == f"{path} is broken: its weight `layer1_conv/kernel` holds NaN (3 of 288 values)"


@pytest.mark.parametrize("script", ["evaluate.py", "export.py"])
def test_evaluate_and_export_refuse_nan_weights_and_write_nothing(script, image_folder, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = nan_model(work / "nan.keras")
    out = work / "out"
    command = [sys.executable, os.path.join(ROOT, "scripts", script), "--model", str(path)]
    command += ["--data-dir", str(image_folder), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=work)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path} is broken: its weight `layer1_conv/kernel` holds NaN (3 of 288 values)"
    )
    assert not out.exists() and os.listdir(work) == ["nan.keras"]


def test_a_backup_with_inf_weights_is_refused(tmp_path):
    from keras_s11.callbacks import TrainingBackup, restore_backup
    from keras_s11.resume import ResumeError
    from tests.helpers import tiny_dataset, tiny_model

    model = tiny_model(lr=0.1)
    ds, _, _ = tiny_dataset(batches=2)
    model.fit(ds, epochs=1, verbose=0)
    model.layers[-1].kernel.assign(np.full(model.layers[-1].kernel.shape, np.inf, "float32"))
    backup = TrainingBackup(tmp_path / "backup")
    backup.set_model(model)
    backup.on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ResumeError, match=r"is broken: its weight `.*/kernel` holds Inf \(\d+ of \d+ values\)"):
        restore_backup(tiny_model(lr=0.1), tmp_path / "backup")


def test_the_onnx_client_refuses_a_model_with_nan_weights(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    from keras_s11.serving import OnnxClassifier, ServingModelError

    weight = numpy_helper.from_array(np.array([[1.0, np.nan]], np.float32), name="fc/kernel")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "fc/kernel"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])],
        initializer=[weight],
    )
    path = tmp_path / "nan.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ServingModelError) as info:
        OnnxClassifier(path)
    assert str(info.value) == f"{path} is broken: its weight `fc/kernel` holds NaN (1 of 2 values)"


def test_the_trained_model_is_checked_before_it_is_saved(image_folder, tmp_path, monkeypatch):
    from keras_s11 import training
    from keras_s11.training import TrainingError, train

    def poisoned(model):
        model.get_layer("fc").bias.assign(np.full((10,), np.inf, "float32"))
        check(model)

    check = training._check_finite
    monkeypatch.setattr(training, "_check_finite", poisoned)
    with pytest.raises(TrainingError, match=r"the trained model is broken, its weight `fc/bias` holds Inf"):
        train(run_name="bad", data_dir=str(image_folder), out_dir=str(tmp_path / "runs"), **TINY)
    assert not (tmp_path / "runs" / "bad").exists()


# --- the GPU and TPU defaults, on this CPU -------------------------------------------------------


@pytest.mark.parametrize("precision, resume", [("mixed_float16", True), ("mixed_bfloat16", False)])
def test_the_accelerator_defaults_train_resume_and_export_with_parity(
    precision, resume, image_folder, tmp_path, monkeypatch
):
    """`--precision mixed_float16 --jit-compile on` (GPUs) and `mixed_bfloat16` (TPUs) end to end, tiny."""
    from keras_s11.callbacks import TrainingBackup
    from keras_s11.export.exporter import export_model
    from keras_s11.saving import load_model
    from keras_s11.training import TrainingInterrupted, train

    settings = dict(TINY, data_dir=str(image_folder), out_dir=str(tmp_path / "runs"), epochs=2, batch_size=16)
    settings.update(precision=precision, jit_compile="on")
    whole = train(run_name="whole", **settings)
    assert json.loads(open(os.path.join(whole.run_path, "config.json")).read())["jit_compile_enabled"] is True
    if resume:
        end_of_epoch = TrainingBackup.on_epoch_end

        def stop_after_the_first_backup(self, epoch, logs=None):
            end_of_epoch(self, epoch, logs)
            raise KeyboardInterrupt

        monkeypatch.setattr(TrainingBackup, "on_epoch_end", stop_after_the_first_backup)
        with pytest.raises(TrainingInterrupted) as info:
            train(run_name="stopped", **settings)
        assert info.value.epochs_kept == 1
        monkeypatch.setattr(TrainingBackup, "on_epoch_end", end_of_epoch)
        resumed = train(run_name="stopped", resume=True, **settings)
        assert resumed.history == whole.history
        weights = (load_model(os.path.join(r.run_path, "model.keras")).get_weights() for r in (whole, resumed))
        for a, b in zip(*weights, strict=True):
            np.testing.assert_array_equal(a, b)
    report = export_model(
        os.path.join(whole.run_path, "model.keras"),
        tmp_path / "export",
        formats=("onnx",),
        data_dir=str(image_folder),
        parity_count=20,
    )
    assert report["model_precision"] == precision and report["exported_precision"] == "float32"
    (onnx_entry,) = report["artefacts"].values()
    assert onnx_entry["passed"] is True, onnx_entry
