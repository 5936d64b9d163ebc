"""One-cycle policy callback: sets the learning rate every step."""

from collections.abc import Mapping

import keras

from keras_s11.callbacks._optimizer_checks import check_step_callback
from keras_s11.schedules import one_cycle, validate_one_cycle


class OneCycle(keras.callbacks.Callback):
    """Sets the learning rate at every training step along a one cycle.

    `lr_min` at epoch 0, linearly (or along a half cosine) up to `lr_max` at
    `peak_epoch`, back down to `lr_min` at `epochs`, never below `lr_min`
    (no annihilation). The formula is `keras_s11.schedules.one_cycle`, the
    same as `OneCycleSchedule`.

    Args:
        lr_min: Learning rate at the start and the end.
        lr_max: Learning rate at `peak_epoch`.
        epochs: Length of the cycle in epochs.
        peak_epoch: Epoch at which the learning rate peaks.
        steps_per_epoch: Steps per epoch; by default read from `fit`.
        mode: `"linear"` or `"cosine"`.

    Attributes:
        lrs: Learning rate set at each step, in order.

    Reusing the callback: Keras tells a callback where a `fit` starts only
    through the first `on_epoch_begin`, so that is where it decides. A `fit`
    that starts at epoch 0 starts `lrs` afresh, so a reused
    callback records only the new cycle. A `fit(..., initial_epoch=k)` with
    `k > 0` is taken as resuming: the values of the steps of epochs `0..k-1`
    are kept (for a callback whose `lrs` were restored from a backup) and any
    later ones (an epoch interrupted midway) dropped, so that `lrs[i]` stays
    the learning rate of step `i` of the cycle.

    Example:

    >>> model.fit(train_ds, epochs=24, shuffle=False, callbacks=[OneCycle(0.04, 0.4, epochs=24, peak_epoch=5)])
    >>> # Or between the LRs an LR range test found (`keras_s11.lr_finder.find_lr_range`):
    >>> one_cycle = OneCycle.from_range_test(find_lr_range(model, x, y), epochs=10, peak_epoch=3)
    """

    def __init__(
        self,
        lr_min,
        lr_max,
        epochs=24,
        peak_epoch=5,
        steps_per_epoch=None,
        mode="linear",
    ):
        super().__init__()
        validate_one_cycle(lr_min, lr_max, epochs, peak_epoch, mode)
        if steps_per_epoch is not None and (not isinstance(steps_per_epoch, int) or steps_per_epoch < 1):
            raise ValueError(
                "Argument `steps_per_epoch` must be a positive integer or None. "
                f"Received: steps_per_epoch={steps_per_epoch!r}"
            )
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.epochs = epochs
        self.peak_epoch = peak_epoch
        self.steps_per_epoch = steps_per_epoch
        self.mode = mode
        self.lrs = []
        self._first_epoch_of_fit = False

    @classmethod
    def from_range_test(cls, result, epochs=24, peak_epoch=5, **kwargs):
        """A one cycle between the LRs a range test found: `lr_min` to `lr_max` and back.

        Args:
            result: What `keras_s11.lr_finder.find_lr_range` returns (an
                `LRRangeResult`), or a dict with its `lr_min` and `lr_max`
                (a run's `lr_range_test.json`).
            epochs: Length of the cycle in epochs.
            peak_epoch: Epoch at which the learning rate peaks at `lr_max`.
            **kwargs: Further `OneCycle` arguments (`steps_per_epoch`,
                `mode`).

        Returns:
            A `OneCycle` callback.

        Raises:
            ValueError: If `result` holds no `lr_min` below its `lr_max`
                (the range test found no range: its `LRRangeWarning` says
                why), or an argument of the cycle is out of range.

        Example:

        >>> result = find_lr_range(model, x_train, y_train, batch_size=64)
        >>> one_cycle = OneCycle.from_range_test(result, epochs=10, peak_epoch=3)
        >>> model.fit(x_train, y_train, batch_size=64, epochs=10, callbacks=[one_cycle])
        """
        read = result.get if isinstance(result, Mapping) else lambda name: getattr(result, name, None)
        lr_min, lr_max = read("lr_min"), read("lr_max")
        if lr_min is None or lr_max is None:
            raise ValueError(
                "Argument `result` must be a range-test result with `lr_min` and `lr_max` (what find_lr_range "
                f"returns). Received: result of type {type(result).__name__}"
            )
        if not 0 < lr_min < lr_max:
            raise ValueError(
                "Argument `result` gives no LR range to cycle over: its `lr_min` must be below its `lr_max`. "
                f"Received: lr_min={lr_min}, lr_max={lr_max} (the range test's LRRangeWarning says why)"
            )
        return cls(lr_min, lr_max, epochs=epochs, peak_epoch=peak_epoch, **kwargs)

    def lr_at(self, epoch):
        """Learning rate at a fractional epoch."""
        return float(one_cycle(epoch, self.lr_min, self.lr_max, self.epochs, self.peak_epoch, self.mode))

    def on_train_begin(self, logs=None):
        self._first_epoch_of_fit = True
        self._steps = self.steps_per_epoch or (self.params or {}).get("steps")
        if not self._steps:
            raise ValueError(
                "OneCycle cannot tell the number of steps per epoch: pass `steps_per_epoch` to OneCycle (or to `fit`)."
            )
        check_step_callback(self.model, "OneCycle")

    def on_train_batch_begin(self, batch, logs=None):
        epoch = self._epoch + batch / self._steps
        lr = self.lr_at(epoch)
        self.model.optimizer.learning_rate = lr
        self.lrs.append(lr)

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch_of_fit:
            self._first_epoch_of_fit = False
            del self.lrs[epoch * self._steps :]  # all of them for a fit from epoch 0
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.lrs:
            logs["learning_rate"] = self.lrs[-1]
