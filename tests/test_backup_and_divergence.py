"""TrainingBackup / restore_backup, StopOnDivergence, OneCycle after a restore, resume checks."""

import json
import os

import numpy as np
import pytest

from keras_s11.callbacks import OneCycle, StopOnDivergence, TrainingBackup, TrainingDivergedError, restore_backup
from keras_s11.resume import ResumeError, backed_up_epochs, check_same_run, latest_resumable
from tests.helpers import tiny_dataset, tiny_model


def optimizer_state(model):
    return [np.array(v) for v in model.optimizer.variables]


def test_backup_restores_weights_optimizer_epoch_and_history(tmp_path):
    ds, _, _ = tiny_dataset(batches=3)
    model = tiny_model(lr=0.1, momentum=0.9, batchnorm=True)
    backup = TrainingBackup(tmp_path / "backup", extra_state=lambda: {"note": "kept"})
    model.fit(ds, epochs=2, verbose=0, callbacks=[backup])
    state = json.loads((tmp_path / "backup" / "state.json").read_text())
    assert state["epoch"] == 2 and state["extra"] == {"note": "kept"} and len(state["history"]["loss"]) == 2
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-0002.keras", "state.json"]  # older file removed
    assert backed_up_epochs(tmp_path) == 2

    fresh = tiny_model(lr=0.1, momentum=0.9, batchnorm=True, seed=1)
    restored = restore_backup(fresh, tmp_path / "backup")
    assert restored == state
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):  # BN statistics included
        np.testing.assert_array_equal(a, b)
    for a, b in zip(optimizer_state(model), optimizer_state(fresh), strict=True):  # iterations, momentum
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations.numpy()) == 6
    assert restore_backup(fresh, tmp_path / "nothing-here") is None


def test_history_continues_and_a_diverged_epoch_is_not_backed_up(tmp_path):
    backup = TrainingBackup(tmp_path, history={"loss": [2.0]})
    backup.set_model(tiny_model())
    backup.on_epoch_end(1, {"loss": 1.5, "val_loss": float("inf")})
    backup.on_epoch_end(2, {"loss": float("nan")})
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2 and state["history"]["loss"] == [2.0, 1.5] and backup.history["loss"] == [2.0, 1.5]


def test_one_cycle_resumed_at_an_epoch_sets_the_lrs_of_the_uninterrupted_run():
    ds, _, _ = tiny_dataset(batches=4)
    whole = OneCycle(0.1, 1.0, epochs=4, peak_epoch=1)
    tiny_model().fit(ds, epochs=4, verbose=0, callbacks=[whole])
    resumed = OneCycle(0.1, 1.0, epochs=4, peak_epoch=1)
    tiny_model().fit(ds, epochs=4, initial_epoch=2, verbose=0, callbacks=[resumed])
    assert len(whole.lrs) == 16 and resumed.lrs == whole.lrs[8:]
    assert resumed.lrs[0] == pytest.approx(resumed.lr_at(2)) == pytest.approx(0.1 + 0.9 * 2 / 3)


def test_stop_on_divergence_names_the_step_and_its_learning_rate():
    ds, _, _ = tiny_dataset(batches=6)
    model = tiny_model(lr=1.0)
    cycle = OneCycle(1.0, 1e30, epochs=2, peak_epoch=1)
    with pytest.raises(TrainingDivergedError) as info:
        model.fit(ds, epochs=2, verbose=0, callbacks=[cycle, StopOnDivergence()])
    error = info.value
    assert error.learning_rate == pytest.approx(cycle.lrs[-1], rel=1e-6)  # the LR of the step that failed
    assert len(cycle.lrs) == 6 * error.epoch + error.step + 1
    assert not np.isfinite(error.loss) and "\n" not in str(error)
    assert f"epoch {error.epoch + 1}, step {error.step + 1}, at learning rate {error.learning_rate:.4g}" in str(error)


def test_a_resumed_run_must_keep_the_flags_that_define_it(tmp_path):
    saved = {"width": 64, "epochs": 24, "lookahead": [5, 0.5], "lr_max": None}
    check_same_run(saved, {"width": 64, "epochs": 24, "lookahead": (5, 0.5), "lr_max": 0.3})
    with pytest.raises(ResumeError, match=r"`epochs` was 24 in the interrupted run, 30 now"):
        check_same_run(saved, {"width": 64, "epochs": 30, "lookahead": (5, 0.5)})
    for name, epoch in (("old", 1), ("new", 2)):
        (tmp_path / f".{name}.partial" / "backup").mkdir(parents=True)
        (tmp_path / f".{name}.partial" / "backup" / "state.json").write_text(json.dumps({"epoch": epoch}))
        os.utime(tmp_path / f".{name}.partial" / "backup" / "state.json", (epoch, epoch))
    (tmp_path / ".nobackup.partial").mkdir()
    assert latest_resumable(tmp_path) == "new" and latest_resumable(tmp_path / "none") is None


def test_a_damaged_backup_state_is_named_not_a_stack_trace(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "state.json").write_text('{"epoch": 3, "hist')  # cut off mid-write
    with pytest.raises(ResumeError, match="state.json cannot be read.*`resume=False`"):
        backed_up_epochs(tmp_path)
    assert backed_up_epochs(tmp_path / "elsewhere") == 0


def backup_of_two_epochs(folder):
    ds, _, _ = tiny_dataset(batches=2)
    model = tiny_model(momentum=0.9)
    model.fit(ds, epochs=2, verbose=0, callbacks=[TrainingBackup(folder)])
    return folder / "epoch-0002.keras"


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            "truncate",
            "the backup is damaged: {file} is a damaged or truncated .keras file (its zip directory is missing); "
            "start again with `resume=False`",
        ),
        ("delete", "the backup is damaged: model file {file} does not exist; start again with `resume=False`"),
        (
            "escape",
            "the backup state {state} does not name an epoch and a model file of the backup; "
            "start again with `resume=False`",
        ),
    ],
)
def test_a_damaged_backup_model_is_named_before_anything_loads(tmp_path, damage, message):
    model_file = backup_of_two_epochs(tmp_path / "backup")
    if damage == "truncate":
        model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
    elif damage == "delete":
        model_file.unlink()
    else:
        state = json.loads((tmp_path / "backup" / "state.json").read_text())
        (tmp_path / "backup" / "state.json").write_text(json.dumps(dict(state, model_file="../../elsewhere.keras")))
    with pytest.raises(ResumeError) as info:
        backed_up_epochs(tmp_path)  # what scripts/train.py checks before it loads the data
    assert str(info.value) == message.format(file=model_file, state=tmp_path / "backup" / "state.json")
    with pytest.raises(ResumeError):
        restore_backup(tiny_model(momentum=0.9), tmp_path / "backup")


def test_a_backup_whose_weights_do_not_load_is_named(tmp_path):
    """A complete archive whose weights do not fit the model: ResumeError naming it, not a Keras traceback."""
    model_file = backup_of_two_epochs(tmp_path / "backup")
    with pytest.raises(ResumeError, match=f"the backup {model_file} cannot be loaded .*resume=False"):
        restore_backup(tiny_model(momentum=0.9, batchnorm=True), tmp_path / "backup")
