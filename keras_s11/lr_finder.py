"""Runs the LR range test on a model and suggests LRMIN and LRMAX."""

import dataclasses
import warnings

import keras
import numpy as np

LR_RULE = (
    "LRMAX = the LR at the lowest smoothed loss before the smoothed loss first rises "
    "5 % above its running minimum; LRMIN = the first LR at which the smoothed loss has "
    "covered 10 % of its fall from the start to that minimum"
)


class LRRangeWarning(UserWarning):
    """The range-test curve gives no trustworthy LR range."""


@dataclasses.dataclass
class LRRangeResult:
    """Curves of an LR range test and the learning rates suggested from them.

    `plot()` draws them (`keras_s11.figures.plot_lr_range_test`).
    """

    lrs: list
    losses: list
    smoothed_losses: list
    accuracies: list
    lr_min: float
    lr_max: float
    diverged: bool
    rule: str = LR_RULE

    def to_dict(self):
        return dataclasses.asdict(self)

    def plot(self):
        """The range-test figure: `keras_s11.figures.plot_lr_range_test(self)`.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        from keras_s11.figures.lr import plot_lr_range_test

        return plot_lr_range_test(self)


def _lowest_before_rise(smoothed, rise):
    """Index of the lowest finite loss before the first `rise` above the running minimum.

    Rises count only once the loss has fallen `rise` below its first value:
    the noise of a flat start is no sign of instability.
    """
    best, falling = None, False
    for i, loss in enumerate(smoothed):
        if not np.isfinite(loss):
            break
        falling = falling or loss <= (1 - rise) * smoothed[0]
        if best is None or loss < smoothed[best]:
            best = i
        elif falling and loss > (1 + rise) * smoothed[best]:
            break
    return best


def suggest_lr_range(lrs, smoothed_losses, rise=0.05, fall=0.1):
    """Suggests `(lr_min, lr_max)` from the curves of an LR range test.

    Smith's reading of the curve: LRMIN where the loss starts to fall, LRMAX
    where it stops falling.

    - LRMAX is the learning rate at which the smoothed loss is lowest,
      searched only up to the first step where it climbs `rise` (5 %) above
      its running minimum: past that point training is unstable, and a BN
      network that later recovers at absurd learning rates must not be
      mistaken for one that learns there. Rises count only once the loss
      has fallen `rise` below its first value, so the noise of a flat start
      does not end the search.
    - LRMIN is the first learning rate at which the smoothed loss has fallen
      by `fall` (10 %) of its whole fall, from the first step down to the
      minimum at LRMAX: where learning has clearly begun. A fraction of the
      fall, not a fixed slope or a fixed ratio to LRMAX, reads the same point
      on curves of any loss scale, and the noise of the first steps is small
      beside a tenth of the fall.

    On CIFAR-10 with this network (docs/RESULTS.md) the loss falls from
    about 2.92 at 1e-3 to about 2.39 at 0.24 and turns ragged right after:
    LRMAX is about 0.24 and LRMIN about 0.002, so the one cycle ends two
    decades below its peak, where the last epochs settle the weights.

    Args:
        lrs: Learning rate of each step.
        smoothed_losses: Smoothed loss of each step.
        rise: Relative rise above the running minimum that ends the search
            for LRMAX.
        fall: Fraction of the fall from the first loss to the minimum that
            marks LRMIN, in (0, 1).

    Returns:
        `(lr_min, lr_max)` as floats. Where the loss never falls below its
        first value, both are the first LR, with an `LRRangeWarning`.

    Raises:
        ValueError: If the curves are empty, of different lengths, or hold no
            finite loss, or `fall` is not in (0, 1).
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed_losses, dtype=np.float64)
    if lrs.shape != smoothed.shape or lrs.size == 0:
        raise ValueError(
            "Arguments `lrs` and `smoothed_losses` must be non-empty and of equal length. "
            f"Received: {lrs.size} and {smoothed.size} values"
        )
    if not 0 < fall < 1:
        raise ValueError(f"Argument `fall` must be in (0, 1). Received: fall={fall}")
    if not np.isfinite(smoothed[0]):
        raise ValueError("The range test recorded no finite loss at its first step: start it at a lower LR.")
    best = _lowest_before_rise(smoothed, rise)
    if best == 0:
        warnings.warn(
            f"The range-test loss was lowest at the first LR ({lrs[0]:.4g}): the model may be trained "
            "already, or the range starts too high. Start the test at a lower LR.",
            LRRangeWarning,
            stacklevel=2,
        )
        return float(lrs[0]), float(lrs[0])
    target = smoothed[0] - fall * (smoothed[0] - smoothed[best])
    onset = int(np.argmax(smoothed[: best + 1] <= target))
    return float(lrs[onset]), float(lrs[best])


def repeat_input(dataset):
    """`dataset` as an input that does not run out: a range test needs more steps than an epoch may hold.

    A `tf.data.Dataset` is `.repeat()`-ed; an endless `keras.utils.PyDataset`
    (`num_batches` is `None`) is returned as it is; a finite one is wrapped
    so that batch `i` is its batch `i % len(dataset)`. A wrapped dataset's
    `on_epoch_end` is not called. Either way each pass counts as an epoch of
    the training inputs (`make_train_dataset`, `make_train_batches`), as in
    `fit`.

    Args:
        dataset: A `tf.data.Dataset` or a `keras.utils.PyDataset`.

    Returns:
        An endless input for `fit`.

    Raises:
        TypeError: For any other kind of input.
    """
    if isinstance(dataset, keras.utils.PyDataset):
        if dataset.num_batches is None:
            return dataset
        if dataset.num_batches < 1:
            raise ValueError("Argument `dataset` holds no batch.")
        return _RepeatedPyDataset(dataset)
    if hasattr(dataset, "repeat") and hasattr(dataset, "element_spec"):  # tf.data, without importing TensorFlow
        return dataset.repeat()
    raise TypeError(
        "Argument `dataset` must be a tf.data.Dataset or a keras.utils.PyDataset. "
        f"Received: dataset of type {type(dataset).__name__}"
    )


class _RepeatedPyDataset(keras.utils.PyDataset):
    """Batch `i` of a finite `PyDataset`, modulo its length, without end."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return self.dataset[index % self.dataset.num_batches]


def find_lr_range(model, dataset, start_lr=1e-3, end_lr=10.0, num_steps=100, mode="exponential", verbose=1, **kwargs):
    """Runs `LRRangeTest` on `model` and suggests LRMIN and LRMAX.

    The model must be compiled (with a float learning rate); it is left
    exactly as it was (weights and optimizer state are restored).

    Args:
        model: A compiled Keras model.
        dataset: A training `tf.data.Dataset` or `keras.utils.PyDataset`
            (repeated here as needed, see `repeat_input`).
        start_lr, end_lr, num_steps, mode: As in `LRRangeTest`.
        verbose: Verbosity of `fit`; also prints the suggestion when > 0.
        **kwargs: Further `LRRangeTest` arguments.

    Returns:
        An `LRRangeResult`.
    """
    from keras_s11.callbacks.lr_range_test import LRRangeTest

    test = LRRangeTest(start_lr, end_lr, num_steps, mode=mode, **kwargs)
    dataset = repeat_input(dataset)
    model.fit(dataset, steps_per_epoch=num_steps, epochs=1, callbacks=[test], verbose=verbose, shuffle=False)
    lr_min, lr_max = suggest_lr_range(test.lrs, test.smoothed_losses)
    result = LRRangeResult(
        lrs=test.lrs,
        losses=test.losses,
        smoothed_losses=test.smoothed_losses,
        accuracies=test.accuracies,
        lr_min=lr_min,
        lr_max=lr_max,
        diverged=test.diverged,
    )
    if verbose:
        print(f"LR range test: LRMIN={lr_min:.4g}, LRMAX={lr_max:.4g} ({result.rule})")
    return result
