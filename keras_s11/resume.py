"""Finding and checking an interrupted run to resume (no TensorFlow needed).

A run killed or stopped by an error keeps its hidden partial folder
(`.NAME.partial`, see `keras_s11.run_folder`) when it holds a backup: the
model and optimizer after the last completed epoch, written by
`keras_s11.callbacks.TrainingBackup` into `backup/`, with `backup/state.json`.
"""

import csv
import json
import os
import zipfile

from keras_s11 import run_layout
from keras_s11.model_file import ModelFileError, check_keras_file
from keras_s11.run_folder import partial_path

BACKUP_DIR = "backup"
STATE_FILE = "state.json"
CONFIG_FILE = run_layout.CONFIG

# Settings that define what is being trained: a resumed run must keep them.
SAME_RUN_FLAGS = (
    "data_dir",
    "limit_train",
    "limit_test",
    "holdout",
    "batch_size",
    "seed",
    "epochs",
    "peak_epoch",
    "schedule",
    "momentum",
    "nesterov",
    "lookahead",
    "batchnorm_lr_scale",
    "flip",
    "weight_decay",
    "label_smoothing",
    "ema_momentum",
    "width",
    "logit_scale",
    "prep_init",
    "precision",
)


class ResumeError(ValueError):
    """Raised when an interrupted run cannot be resumed as asked."""


def has_backup(partial):
    """Whether the partial folder `partial` holds a training backup."""
    return os.path.isfile(os.path.join(partial, BACKUP_DIR, STATE_FILE))


def read_backup_state(backup_dir):
    """The `state.json` of a backup, or `None` when there is none; its model file checked too.

    Cheap (no TensorFlow): the state must name the epoch and a model file
    of the backup folder, and that file must be a complete `.keras` archive,
    so that a damaged backup is reported before a run starts, not when its
    weights are loaded.

    Raises:
        ResumeError: If the state exists but cannot be read, or names a model
            file that is missing, truncated or damaged; the message names the
            file and suggests `--no-resume`.
    """
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError) as error:
        raise ResumeError(
            f"the backup state {path} cannot be read ({error}); start again with `resume=False`"
        ) from None
    model_file = state.get("model_file") if isinstance(state, dict) else None
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if (
        not isinstance(model_file, str)
        or os.path.basename(model_file) != model_file
        or not isinstance(epoch, int)
        or isinstance(epoch, bool)
        or epoch < 1
    ):
        raise ResumeError(
            f"the backup state {path} does not name an epoch and a model file of the backup; "
            "start again with `resume=False`"
        )
    try:
        check_keras_file(os.path.join(backup_dir, model_file))
    except ModelFileError as error:
        raise ResumeError(f"the backup is damaged: {error}; start again with `resume=False`") from None
    return state


def backed_up_epochs(partial):
    """Number of epochs the backup in the partial folder `partial` holds (0 without one)."""
    state = read_backup_state(os.path.join(partial, BACKUP_DIR))
    return int(state["epoch"]) if state else 0


def check_backup_model(partial):
    """Checks, without TensorFlow, that the model file of the backup in `partial` is whole.

    `read_backup_state` has checked the state and the archive's directory;
    here every member of the `.keras` archive is read and its checksum
    compared, so a file damaged on disk is found before a run starts.

    Returns:
        The number of epochs the backup holds (0 without a backup), from the
        state read once for both.

    Raises:
        ResumeError: If the backup state or its model file cannot be read,
            naming the file.
    """
    backup_dir = os.path.join(partial, BACKUP_DIR)
    state = read_backup_state(backup_dir)
    if state is None:
        return 0
    path = os.path.join(backup_dir, state["model_file"])
    hint = "start again with `resume=False`"
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ResumeError(f"the backed-up model {path} cannot be read ({error}); {hint}") from None
    if damaged is not None:
        raise ResumeError(f"the backed-up model {path} is damaged ({damaged} fails its checksum); {hint}")
    return int(state["epoch"])


def latest_resumable(out_dir):
    """Name of the most recently backed-up interrupted run in `out_dir`, or `None`."""
    if not os.path.isdir(out_dir):
        return None
    found = []
    for entry in os.listdir(out_dir):
        if entry.startswith(".") and entry.endswith(".partial") and len(entry) > len("..partial"):
            if has_backup(os.path.join(out_dir, entry)):
                state = os.path.join(out_dir, entry, BACKUP_DIR, STATE_FILE)
                found.append((os.path.getmtime(state), entry[1 : -len(".partial")]))
    return max(found)[1] if found else None


def read_saved_config(run_path):
    """The `config.json` an interrupted run saved in its partial folder.

    Raises:
        ResumeError: If it is missing or unreadable.
    """
    path = os.path.join(partial_path(run_path), CONFIG_FILE)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise ResumeError(f"cannot resume: {path} is missing or damaged ({error.__class__.__name__})") from None


def check_same_run(saved, current, flags=SAME_RUN_FLAGS):
    """Raises `ResumeError` naming the first setting whose value changed.

    Args:
        saved: The interrupted run's saved config (setting name > value).
        current: This run's settings (setting name > value).
        flags: The setting names that must agree (those absent from `saved`
            are skipped).
    """
    for flag in flags:
        if flag not in saved:
            continue
        before, now = saved[flag], current.get(flag)
        if json.loads(json.dumps(now)) != before:
            raise ResumeError(
                f"`{flag}` was {before!r} in the interrupted run, {now!r} now: resume with the same settings "
                "or start a new run with another `run_name` (or `resume=False`)"
            )


def write_history_csv(path, history):
    """Writes a per-epoch history as Keras's `CSVLogger` does: `epoch`, then the sorted names.

    A resumed run rewrites `history.csv` from its backup this way (dropping
    any row of an epoch that was logged but not backed up), then appends to it.

    Args:
        path: The CSV file to (over)write.
        history: Name > list of per-epoch values, all of one length.
    """
    keys = sorted(history)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *keys])
        for epoch in range(len(history[keys[0]]) if keys else 0):
            writer.writerow([epoch, *(history[key][epoch] for key in keys)])
