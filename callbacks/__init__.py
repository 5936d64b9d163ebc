"""Custom Keras callbacks: the LR range test, the one-cycle policy, per-step history."""

from callbacks.lr_range_test import LRRangeTest
from callbacks.one_cycle import OneCycle
from callbacks.step_history import StepHistory

__all__ = ["LRRangeTest", "OneCycle", "StepHistory"]
