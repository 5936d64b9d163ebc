"""LR range test (Smith, 2015): grow the learning rate, record each step's loss."""

import math
import warnings

import keras
import numpy as np

from keras_s11.callbacks._optimizer_checks import check_step_callback

RANGE_TEST_MODES = ("exponential", "linear")


class LRRangeTest(keras.callbacks.Callback):
    """Grows the learning rate step by step and records each step's own loss.

    At step `i` (0-based) the learning rate is
    `start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))` (exponential) or
    `start_lr + (end_lr - start_lr) * i / (num_steps - 1)` (linear). The loss
    and accuracy recorded for a step are those of that step's batch alone:
    the metrics are reset before every batch, because the `logs["loss"]` that
    Keras passes to batch hooks is the running mean of the epoch.

    Training stops after `num_steps` steps, across epochs (give `fit`
    enough of them: a warning says when it ends first), or early when the
    smoothed loss exceeds `divergence_factor` times its minimum. When training ends the
    model's weights (trainable and not), the optimizer's state and its
    learning rate are restored, so the range test leaves no trace.

    Needs an optimizer built with a float learning rate (not a schedule) and
    `steps_per_execution=1`.

    Args:
        start_lr: Learning rate of the first step.
        end_lr: Learning rate of step `num_steps - 1`.
        num_steps: Number of steps of the test.
        mode: `"exponential"` or `"linear"` growth.
        smoothing: Weight of the past in the exponential moving average of the
            loss, in [0, 1); the average is bias-corrected.
        divergence_factor: Stop once the smoothed loss exceeds this multiple
            of its minimum. `None` never stops early.
        restore: Whether to restore the model and optimizer at the end.

    Attributes:
        lrs, losses, smoothed_losses, accuracies: Per-step lists.
        diverged: Whether the test stopped on a diverging loss.

    Example:

    >>> test = LRRangeTest(1e-3, 10.0, num_steps=100)
    >>> model.fit(train_ds, epochs=2, callbacks=[test])  # 97 steps an epoch: 100 steps in 2
    >>> test.lrs, test.smoothed_losses
    """

    def __init__(
        self,
        start_lr=1e-3,
        end_lr=10.0,
        num_steps=100,
        mode="exponential",
        smoothing=0.9,
        divergence_factor=4.0,
        restore=True,
    ):
        super().__init__()
        if not 0 < start_lr < end_lr:
            raise ValueError(
                f"Arguments must satisfy 0 < `start_lr` < `end_lr`. Received: start_lr={start_lr}, end_lr={end_lr}"
            )
        if not isinstance(num_steps, int) or num_steps < 2:
            raise ValueError(f"Argument `num_steps` must be an integer >= 2. Received: num_steps={num_steps!r}")
        if mode not in RANGE_TEST_MODES:
            raise ValueError(f"Argument `mode` must be one of {RANGE_TEST_MODES}. Received: mode={mode!r}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"Argument `smoothing` must be in [0, 1). Received: smoothing={smoothing}")
        if divergence_factor is not None and divergence_factor <= 1:
            raise ValueError(
                f"Argument `divergence_factor` must be > 1 or None. Received: divergence_factor={divergence_factor}"
            )
        self.start_lr = start_lr
        self.end_lr = end_lr
        self.num_steps = num_steps
        self.mode = mode
        self.smoothing = smoothing
        self.divergence_factor = divergence_factor
        self.restore = restore
        self._saved_weights = self._saved_optimizer = None
        self._reset_records()

    def _reset_records(self):
        self.lrs, self.losses, self.smoothed_losses, self.accuracies = [], [], [], []
        self.diverged = False

    def lr_at(self, step):
        """Learning rate of step `step` (0-based)."""
        fraction = step / (self.num_steps - 1)
        if self.mode == "linear":
            return self.start_lr + (self.end_lr - self.start_lr) * fraction
        return self.start_lr * (self.end_lr / self.start_lr) ** fraction

    def on_train_begin(self, logs=None):
        check_step_callback(self.model, "LRRangeTest")
        optimizer = self.model.optimizer
        self._reset_records()
        self._step = 0
        self._average = 0.0
        self._saved_weights = [np.array(w) for w in self.model.get_weights()]
        if not optimizer.built:  # build it now, so its initial state can be restored
            optimizer.build(self.model.trainable_variables)
        self._saved_optimizer = [np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables]  # copies

    def on_train_batch_begin(self, batch, logs=None):
        self.model.reset_metrics()  # so the logs of this batch are its own
        self.model.optimizer.learning_rate = self.lr_at(self._step)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = float(logs["loss"])
        self.lrs.append(self.lr_at(self._step))
        self.losses.append(loss)
        accuracy = next((v for k, v in logs.items() if "acc" in k), None)
        self.accuracies.append(None if accuracy is None else float(accuracy))
        # Exponential moving average of the per-step loss, bias-corrected.
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing ** len(self.losses))
        self.smoothed_losses.append(smoothed)
        self._step += 1
        if not math.isfinite(loss) or (
            self.divergence_factor is not None and smoothed > self.divergence_factor * min(self.smoothed_losses)
        ):
            self.diverged = True
            self.model.stop_training = True
        if self._step >= self.num_steps:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if not self.diverged and self._step < self.num_steps:
            warnings.warn(
                f"LRRangeTest ran {self._step} of its {self.num_steps} steps: `fit` ended first. "
                f"Give `fit` more epochs (at least {self.num_steps} steps in all).",
                stacklevel=2,
            )
        if self.restore:
            self.restore_model()
        self._saved_weights = self._saved_optimizer = None  # a copy of the model: let it go

    def restore_model(self):
        """Puts back the weights, the optimizer's state and its LR saved when training began.

        `on_train_end` calls it (unless `restore=False`); call it yourself
        after a `fit` that failed midway, which calls no `on_train_end`.
        Does nothing outside a `fit`.
        """
        if self._saved_weights is None:
            return
        self.model.set_weights(self._saved_weights)
        optimizer = self.model.optimizer
        for variable, value in zip(optimizer.variables, self._saved_optimizer):
            variable.assign(value)
