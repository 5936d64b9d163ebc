"""Lookahead (Zhang et al., 2019) around any optimizer, as a callback."""

import keras


class Lookahead(keras.callbacks.Callback):
    """Keeps slow weights that move a fraction of the way to the fast ones every few steps.

    The optimizer takes its steps as usual (the "fast" weights); every
    `sync_period` steps the slow copy of the trainable weights moves
    `slow_step` of the way towards them, `slow += slow_step * (fast - slow)`,
    and the model's weights are set back to it. The last step of each epoch
    syncs too, so validation, backups and a resumed run all see slow and fast
    weights equal: the callback carries no state across epochs. Any optimizer
    and any Keras backend; non-trainable weights (BatchNorm statistics) are
    left alone.

    Args:
        sync_period: Steps between syncs, >= 1 (5 in the paper).
        slow_step: Fraction of the way the slow weights move, in (0, 1]
            (0.5 in the paper; 1 is plain training).

    Example:

    >>> model.fit(train_ds, epochs=24, callbacks=[Lookahead(5, 0.5)])
    """

    def __init__(self, sync_period=5, slow_step=0.5):
        super().__init__()
        if isinstance(sync_period, bool) or not isinstance(sync_period, int) or sync_period < 1:
            raise ValueError(f"Argument `sync_period` must be an integer >= 1. Received: sync_period={sync_period!r}")
        if not 0 < slow_step <= 1:
            raise ValueError(f"Argument `slow_step` must be in (0, 1]. Received: slow_step={slow_step!r}")
        self.sync_period = sync_period
        self.slow_step = float(slow_step)
        self._slow = None

    def on_epoch_begin(self, epoch, logs=None):
        self._steps = 0
        self._slow = [keras.ops.copy(weight.value) for weight in self.model.trainable_weights]

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self._steps == self.sync_period or batch + 1 == self.params.get("steps"):
            self.sync()

    def on_epoch_end(self, epoch, logs=None):
        if self._steps:  # an epoch of unknown length: its last step was not synced
            self.sync()

    def sync(self):
        """Moves the slow weights towards the model's and sets the model's to them."""
        for index, weight in enumerate(self.model.trainable_weights):
            slow = self._slow[index]
            self._slow[index] = slow = slow + self.slow_step * (weight.value - slow)
            weight.assign(slow)
        self._steps = 0
