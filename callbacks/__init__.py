"""Custom Keras callbacks: LR range test, one-cycle policy, Lookahead, per-step history, backups, divergence stop."""

from keras_s11.callbacks.lookahead import Lookahead
from keras_s11.callbacks.lr_range_test import LRRangeTest
from keras_s11.callbacks.one_cycle import OneCycle
from keras_s11.callbacks.step_history import StepHistory
from keras_s11.callbacks.stop_on_divergence import StopOnDivergence, TrainingDivergedError
from keras_s11.callbacks.training_backup import TrainingBackup, read_backup_state, restore_backup

__all__ = [
    "Lookahead",
    "LRRangeTest",
    "OneCycle",
    "StepHistory",
    "StopOnDivergence",
    "TrainingBackup",
    "TrainingDivergedError",
    "read_backup_state",
    "restore_backup",
]
