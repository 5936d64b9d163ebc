"""One-cycle policy callback: sets the learning rate (and momentum) every step."""

import keras

from keras_s11.callbacks._optimizer_checks import check_step_callback
from keras_s11.schedules import one_cycle, validate_one_cycle


class OneCycle(keras.callbacks.Callback):
    """Sets the learning rate at every training step along a one cycle.

    `lr_min` at epoch 0, linearly (or along a half cosine) up to `lr_max` at
    `peak_epoch`, back down to `lr_min` at `epochs`, never below `lr_min`
    (no annihilation). The formula is `keras_s11.schedules.one_cycle`, the
    same as `OneCycleSchedule`.

    With `momentum_range=(high, low)` the optimizer's momentum moves the other
    way: `high` > `low` at the peak > `high`. Keras's SGD reads `momentum` as a
    constant when the train step is traced, so this needs an optimizer whose
    momentum is a variable: `keras_s11.optimizers.VariableMomentumSGD`.

    Args:
        lr_min: Learning rate at the start and the end.
        lr_max: Learning rate at `peak_epoch`.
        epochs: Length of the cycle in epochs.
        peak_epoch: Epoch at which the learning rate peaks.
        steps_per_epoch: Steps per epoch; by default read from `fit`.
        mode: `"linear"` or `"cosine"`.
        momentum_range: Optional `(high, low)` momentum pair.

    Attributes:
        lrs: Learning rate set at each step, in order.
        momentums: Momentum set at each step (with `momentum_range`).

    Reusing the callback: Keras tells a callback where a `fit` starts only
    through the first `on_epoch_begin`, so that is where it decides. A `fit`
    that starts at epoch 0 starts `lrs` and `momentums` afresh, so a reused
    callback records only the new cycle. A `fit(..., initial_epoch=k)` with
    `k > 0` is taken as resuming: the values of the steps of epochs `0..k-1`
    are kept (for a callback whose `lrs` were restored from a backup) and any
    later ones (an epoch interrupted midway) dropped, so that `lrs[i]` stays
    the learning rate of step `i` of the cycle.

    Example:

    >>> model.fit(train_ds, epochs=24, shuffle=False, callbacks=[OneCycle(0.04, 0.4, epochs=24, peak_epoch=5)])
    """

    def __init__(
        self,
        lr_min,
        lr_max,
        epochs=24,
        peak_epoch=5,
        steps_per_epoch=None,
        mode="linear",
        momentum_range=None,
    ):
        super().__init__()
        validate_one_cycle(lr_min, lr_max, epochs, peak_epoch, mode)
        if steps_per_epoch is not None and (not isinstance(steps_per_epoch, int) or steps_per_epoch < 1):
            raise ValueError(
                "Argument `steps_per_epoch` must be a positive integer or None. "
                f"Received: steps_per_epoch={steps_per_epoch!r}"
            )
        if momentum_range is not None:
            high, low = momentum_range
            if not 0 <= low <= high < 1:
                raise ValueError(
                    "Argument `momentum_range` must be (high, low) with 0 <= low <= high < 1. "
                    f"Received: momentum_range={momentum_range}"
                )
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.epochs = epochs
        self.peak_epoch = peak_epoch
        self.steps_per_epoch = steps_per_epoch
        self.mode = mode
        self.momentum_range = momentum_range
        self.lrs = []
        self.momentums = []
        self._first_epoch_of_fit = False

    def lr_at(self, epoch):
        """Learning rate at a fractional epoch."""
        return float(one_cycle(epoch, self.lr_min, self.lr_max, self.epochs, self.peak_epoch, self.mode))

    def momentum_at(self, epoch):
        """Momentum at a fractional epoch (needs `momentum_range`)."""
        high, low = self.momentum_range
        return float(one_cycle(epoch, high, low, self.epochs, self.peak_epoch, self.mode))

    def on_train_begin(self, logs=None):
        self._first_epoch_of_fit = True
        self._steps = self.steps_per_epoch or (self.params or {}).get("steps")
        if not self._steps:
            raise ValueError(
                "OneCycle cannot tell the number of steps per epoch: pass `steps_per_epoch` to OneCycle (or to `fit`)."
            )
        check_step_callback(self.model, "OneCycle")
        optimizer = self.model.optimizer
        self._momentum = None
        if self.momentum_range is not None:
            if not optimizer.built:
                optimizer.build(self.model.trainable_variables)
            inner = getattr(optimizer, "inner_optimizer", optimizer)  # unwrap loss scaling
            if not hasattr(inner, "momentum_variable"):
                raise ValueError(
                    "`momentum_range` needs an optimizer whose momentum is a variable, such as "
                    "keras_s11.optimizers.VariableMomentumSGD: Keras's SGD reads `momentum` as a "
                    f"constant when the train step is traced. Received: {type(inner).__name__}"
                )
            self._momentum = inner.momentum_variable

    def on_train_batch_begin(self, batch, logs=None):
        epoch = self._epoch + batch / self._steps
        lr = self.lr_at(epoch)
        self.model.optimizer.learning_rate = lr
        self.lrs.append(lr)
        if self._momentum is not None:
            momentum = self.momentum_at(epoch)
            self._momentum.assign(momentum)
            self.momentums.append(momentum)

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch_of_fit:
            self._first_epoch_of_fit = False
            del self.lrs[epoch * self._steps :]  # all of them for a fit from epoch 0
            del self.momentums[epoch * self._steps :]
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.lrs:
            logs["learning_rate"] = self.lrs[-1]
            if self.momentums:
                logs["momentum"] = self.momentums[-1]
