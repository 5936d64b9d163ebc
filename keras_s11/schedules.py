"""The one-cycle policy as a function of (fractional) epoch, and as a schedule."""

import keras
from keras import ops

ONE_CYCLE_MODES = ("linear", "cosine")


def validate_one_cycle(lr_min, lr_max, epochs, peak_epoch, mode="linear"):
    """Raises `ValueError` naming the argument if the cycle is ill-formed."""
    if not 0 < lr_min < lr_max:
        raise ValueError(f"Arguments must satisfy 0 < `lr_min` < `lr_max`. Received: lr_min={lr_min}, lr_max={lr_max}")
    if not isinstance(epochs, (int, float)) or epochs <= 0:
        raise ValueError(f"Argument `epochs` must be > 0. Received: epochs={epochs!r}")
    if not 0 < peak_epoch < epochs:
        raise ValueError(
            f"Argument `peak_epoch` must be > 0 and < `epochs`. Received: peak_epoch={peak_epoch}, epochs={epochs}"
        )
    if mode not in ONE_CYCLE_MODES:
        raise ValueError(f"Argument `mode` must be one of {ONE_CYCLE_MODES}. Received: mode={mode!r}")


def one_cycle(epoch, start, peak, epochs, peak_epoch, mode="linear"):
    """Value of a one-cycle policy at a (fractional) epoch.

    Goes from `start` at epoch 0 to `peak` at `peak_epoch`, then back to
    `start` at `epochs`, and stays there afterwards: no annihilation below
    `start`. Used for the learning rate (low > high > low) and the momentum
    (high > low > high).

    Args:
        epoch: Fractional epoch, a Python number or a tensor.
        start: Value at epoch 0 and at `epochs`.
        peak: Value at `peak_epoch`.
        epochs: Length of the cycle in epochs.
        peak_epoch: Epoch of the peak, `0 < peak_epoch < epochs`.
        mode: `"linear"` (triangle) or `"cosine"` (half-cosine ramps).

    Returns:
        A float32 scalar tensor.
    """
    epoch = ops.cast(epoch, "float32")
    rising = ops.clip(epoch / peak_epoch, 0.0, 1.0)
    falling = ops.clip((epoch - peak_epoch) / (epochs - peak_epoch), 0.0, 1.0)
    # Position along the cycle in [0, 1]: 0 at start and end, 1 at the peak.
    position = ops.where(epoch < peak_epoch, rising, 1.0 - falling)
    if mode == "cosine":
        position = 0.5 - 0.5 * ops.cos(position * 3.141592653589793)
    return start + (peak - start) * position


@keras.saving.register_keras_serializable(package="keras_s11")
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle learning rate: `lr_min` > `lr_max` at `peak_epoch` > `lr_min`.

    The same formula as the `OneCycle` callback, for an optimizer built with
    a schedule.

    Args:
        lr_min: Learning rate at the start and the end of the cycle.
        lr_max: Learning rate at `peak_epoch`.
        steps_per_epoch: Optimizer steps in one epoch.
        epochs: Length of the cycle in epochs.
        peak_epoch: Epoch at which the learning rate is `lr_max`.
        mode: `"linear"` or `"cosine"`.

    Example:

    >>> schedule = OneCycleSchedule(0.04, 0.4, steps_per_epoch=97)
    >>> optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True)
    """

    def __init__(self, lr_min, lr_max, steps_per_epoch, epochs=24, peak_epoch=5, mode="linear"):
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(
                f"Argument `steps_per_epoch` must be a positive integer. Received: steps_per_epoch={steps_per_epoch!r}"
            )
        validate_one_cycle(lr_min, lr_max, epochs, peak_epoch, mode)
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.peak_epoch = peak_epoch
        self.mode = mode

    def __call__(self, step):
        epoch = ops.cast(step, "float32") / self.steps_per_epoch
        return one_cycle(epoch, self.lr_min, self.lr_max, self.epochs, self.peak_epoch, self.mode)

    def get_config(self):
        return {
            "lr_min": self.lr_min,
            "lr_max": self.lr_max,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "peak_epoch": self.peak_epoch,
            "mode": self.mode,
        }
