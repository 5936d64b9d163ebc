"""The callbacks of a training run: one-cycle, per-step history, divergence stop, logs, backups."""

import dataclasses

from keras_s11 import run_layout
from keras_s11.resume import BACKUP_DIR, write_history_csv


@dataclasses.dataclass
class TrainingCallbacks:
    """The callbacks `keras_s11.training.train` passes to `fit`, and those it reads afterwards.

    Attributes:
        one_cycle: The `OneCycle` (its `lrs` cover the whole run).
        backup: The `TrainingBackup` (its `history` and `train_seconds` too).
        steps_so_far: Returns each step's own loss and accuracy, the whole run.
        all: Every callback, in the order `fit` gets them.
    """

    one_cycle: object
    backup: object
    steps_so_far: object
    all: list


def make_training_callbacks(config, run, state, lr_min, lr_max):
    """One-cycle, per-step history, divergence stop, CSV and TensorBoard logs, per-epoch backup.

    When resuming, they continue `state` (the backup's history, LRs and steps).

    Args:
        config: The run's `TrainConfig`.
        run: The open `RunFolder`.
        state: The restored backup state, or `None` for a new run.
        lr_min, lr_max: The cycle's LRs.

    Returns:
        A `TrainingCallbacks`.
    """
    import keras

    from keras_s11.callbacks import Lookahead, OneCycle, StepHistory, StopOnDivergence, TrainingBackup

    one_cycle = OneCycle(
        lr_min,
        lr_max,
        epochs=config.epochs,
        peak_epoch=config.peak_epoch,
        mode=config.schedule,
    )
    step_history = StepHistory()
    state = state or {"history": {}, "train_seconds": 0.0}
    earlier_steps = {}
    if "extra" in state:
        one_cycle.lrs = list(state["extra"]["lrs"])
        earlier_steps = state["extra"].get("steps", {})
        # Drops the rows of an epoch that was logged but not backed up.
        write_history_csv(run.file(run_layout.HISTORY_CSV), state["history"])

    def steps_so_far():
        names = set(earlier_steps) | set(step_history.history)
        return {name: list(earlier_steps.get(name, [])) + step_history.history.get(name, []) for name in names}

    backup = TrainingBackup(
        run.file(BACKUP_DIR),
        history=state["history"],
        extra_state=lambda: {"lrs": one_cycle.lrs, "steps": steps_so_far()},
        train_seconds=state["train_seconds"],
    )
    csv_logger = keras.callbacks.CSVLogger(run.file(run_layout.HISTORY_CSV), append="extra" in state)
    callbacks = [one_cycle, step_history, StopOnDivergence(), csv_logger]
    if config.lookahead:  # before the logs and the backup, which then see the synced weights
        callbacks.insert(1, Lookahead(int(config.lookahead[0]), config.lookahead[1]))
    if config.tensorboard:  # per-epoch metrics and the LR, under tensorboard/train and tensorboard/validation
        log_dir = run.file(run_layout.TENSORBOARD)
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, write_graph=False, profile_batch=0))
    return TrainingCallbacks(one_cycle, backup, steps_so_far, [*callbacks, backup])
