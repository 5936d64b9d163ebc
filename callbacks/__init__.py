"""Custom Keras callbacks: LR range test, one-cycle policy, per-step history, backups, divergence stop."""

from callbacks.lr_range_test import LRRangeTest
from callbacks.one_cycle import OneCycle
from callbacks.step_history import StepHistory
from callbacks.stop_on_divergence import StopOnDivergence, TrainingDivergedError
from callbacks.training_backup import TrainingBackup, read_backup_state, restore_backup

__all__ = [
    "LRRangeTest",
    "OneCycle",
    "StepHistory",
    "StopOnDivergence",
    "TrainingBackup",
    "TrainingDivergedError",
    "read_backup_state",
    "restore_backup",
]
