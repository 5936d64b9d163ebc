"""Custom Keras callbacks: the LR range test and the one-cycle policy."""

from callbacks.lr_range_test import LRRangeTest
from callbacks.one_cycle import OneCycle

__all__ = ["LRRangeTest", "OneCycle"]
