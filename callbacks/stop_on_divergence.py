"""Stops training at the first NaN or infinite loss, naming the learning rate in use."""

import math

import keras


class TrainingDivergedError(RuntimeError):
    """Raised by `StopOnDivergence`; the message is one line.

    Attributes:
        epoch: 0-based epoch of the step whose loss was not finite.
        step: 0-based step within that epoch.
        learning_rate: The optimizer's learning rate at that step.
        loss: The loss value seen (NaN or infinite).
    """

    def __init__(self, epoch, step, learning_rate, loss):
        self.epoch, self.step, self.learning_rate, self.loss = epoch, step, learning_rate, loss
        super().__init__(
            f"training diverged: the loss became {loss} at epoch {epoch + 1}, step {step + 1}, "
            f"at learning rate {learning_rate:.4g}"
        )


class StopOnDivergence(keras.callbacks.TerminateOnNaN):
    """Keras's `TerminateOnNaN` that raises at once and names the learning rate.

    At the first step whose loss is NaN or infinite it raises
    `TrainingDivergedError` with the epoch, the step and the learning rate
    the optimizer used for that step. Raising (rather than setting
    `stop_training`) skips the end-of-epoch hooks, so nothing of the
    diverged epoch is logged or backed up: a `TrainingBackup` keeps the last
    good state.

    Example:

    >>> try:
    ...     model.fit(train_ds, epochs=24, callbacks=[OneCycle(...), StopOnDivergence()])
    ... except TrainingDivergedError as error:
    ...     print(error.learning_rate)
    """

    def __init__(self):
        # `TerminateOnNaN`'s own `raise_error` (Keras >= 3.13) is not needed: `on_batch_end` is ours.
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            optimizer = self.model.optimizer
            learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            raise TrainingDivergedError(self._epoch, batch, learning_rate, float(loss))
