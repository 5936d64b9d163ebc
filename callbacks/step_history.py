"""Records the training loss and metrics of every step, not just of every epoch."""

import keras


class StepHistory(keras.callbacks.Callback):
    """Records each training step's own loss and metrics.

    The `logs` that Keras passes to `on_train_batch_end` hold the running
    mean of the epoch so far, not the batch's own value. With equal batch
    sizes the batch's own value follows from two consecutive running means:
    `value_k = k * mean_k - (k - 1) * mean_(k-1)` for the `k`-th batch of an
    epoch. That is what this callback records, leaving the model's metrics
    (and so the epoch logs) untouched. With a smaller last batch (a pipeline
    that keeps the remainder) that batch's value is approximate.

    Needs `steps_per_execution=1`, so that the hook runs after every step.

    Attributes:
        history: Dict `{name: [value of each step]}` over all epochs, e.g.
            `history["loss"]`, `history["accuracy"]`.
        running_means: The running means Keras reported, same layout.

    Example:

    >>> steps = StepHistory()
    >>> model.fit(train_ds, epochs=2, callbacks=[steps])
    >>> steps.history["loss"][:3]
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.running_means = {}

    def on_train_begin(self, logs=None):
        steps_per_execution = getattr(self.model, "steps_per_execution", 1)
        if steps_per_execution != 1:
            raise ValueError(
                "StepHistory records every step: compile the model with steps_per_execution=1. "
                f"Received: steps_per_execution={steps_per_execution}"
            )
        self.history, self.running_means = {}, {}

    def on_epoch_begin(self, epoch, logs=None):
        self._previous = {}

    def on_train_batch_end(self, batch, logs=None):
        k = batch + 1
        for name, value in (logs or {}).items():
            mean = float(value)
            own = k * mean - (k - 1) * self._previous.get(name, 0.0)
            self._previous[name] = mean
            self.history.setdefault(name, []).append(own)
            self.running_means.setdefault(name, []).append(mean)
