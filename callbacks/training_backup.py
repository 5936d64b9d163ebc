"""Per-epoch backups of the training state, so that a killed run can resume."""

import contextlib
import math
import os
import time

import keras

from keras_s11.cli import first_line
from keras_s11.finite_weights import first_non_finite_weight
from keras_s11.resume import STATE_FILE, ResumeError, read_backup_state
from keras_s11.run_folder import write_json


class TrainingBackup(keras.callbacks.Callback):
    """Backs up the model, the optimizer state and the history after every epoch.

    At the end of each epoch the model (weights and optimizer state, as a
    `.keras` file) is written under a temporary name and renamed, then
    `state.json` is replaced atomically: it names that file and holds the
    number of epochs done, the history so far and `extra_state()`. Only then
    is the previous model file removed, so a run killed at any moment leaves
    a complete backup. An epoch whose training loss is not finite is not
    backed up: the backup keeps the last good state.

    To resume, build and compile the same model, call
    `restore_backup(model, backup_dir)`, and pass the state's `epoch` to
    `fit(initial_epoch=...)` and its `history` to this callback.

    Args:
        backup_dir: Folder of the backup (created when needed).
        history: History of the epochs already done (name > list of values),
            from a restored state; it is extended, epoch by epoch.
        extra_state: Optional callable returning a JSON-serialisable dict to
            save with each backup (e.g. the learning rates set so far).
        train_seconds: Training time of the epochs already done, from a
            restored state.

    Attributes:
        history: Per-epoch logs of every epoch backed up, restored ones first.
        train_seconds: Wall time from the start of `fit` to the end of the
            last epoch backed up, summed over restarts.
    """

    def __init__(self, backup_dir, history=None, extra_state=None, train_seconds=0.0):
        super().__init__()
        self.backup_dir = os.fspath(backup_dir)
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.extra_state = extra_state
        self.train_seconds = float(train_seconds)
        self._earlier_seconds = self.train_seconds
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" in logs and not math.isfinite(float(logs["loss"])):
            return
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        if self._start is not None:
            self.train_seconds = self._earlier_seconds + time.time() - self._start
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.keras"
        tmp_name = f"tmp-{name}"
        try:
            self.model.save(os.path.join(self.backup_dir, tmp_name))
            os.replace(os.path.join(self.backup_dir, tmp_name), os.path.join(self.backup_dir, name))
        except BaseException:  # a full disk, an interrupt: the previous backup stays whole, and alone
            with contextlib.suppress(OSError):
                os.remove(os.path.join(self.backup_dir, tmp_name))
            raise
        state = {"epoch": epoch + 1, "model_file": name, "history": self.history, "train_seconds": self.train_seconds}
        if self.extra_state is not None:
            state["extra"] = self.extra_state()
        write_json(os.path.join(self.backup_dir, STATE_FILE), state)
        for entry in os.listdir(self.backup_dir):
            if entry.endswith(".keras") and entry != name:
                os.remove(os.path.join(self.backup_dir, entry))


def restore_backup(model, backup_dir):
    """Loads a `TrainingBackup` into a compiled model of the same architecture.

    Args:
        model: The compiled model (its optimizer is built if needed).
        backup_dir: Folder written by `TrainingBackup`.

    Returns:
        The backup's state (`epoch`, `history`, `train_seconds`, `extra`), or `None` when
        `backup_dir` holds no backup.

    Raises:
        keras_s11.resume.ResumeError: If the backup is damaged (its state
            unreadable, its model file missing, truncated, not loadable
            into `model`, or holding NaN or Inf); one line naming the file.
    """
    state = read_backup_state(backup_dir)
    if state is None:
        return None
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    path = os.path.join(backup_dir, state["model_file"])
    try:
        model.load_weights(path)
    except Exception as error:  # noqa: BLE001 - Keras and h5py raise many types for a damaged file
        raise ResumeError(
            f"the backup {path} cannot be loaded ({type(error).__name__}: {first_line(error, 200)}); "
            "start again with `resume=False`"
        ) from None
    problem = first_non_finite_weight(model.weights)
    if problem:
        raise ResumeError(f"the backup {path} is broken: its {problem}; start again with `resume=False`")
    return state
