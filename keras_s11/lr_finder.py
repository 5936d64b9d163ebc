"""Runs the LR range test on a model and suggests LRMIN and LRMAX."""

import dataclasses
import warnings

import keras
import numpy as np

LR_RULE = (
    "LRMAX = the LR at the lowest smoothed loss before the smoothed loss first rises 5 % above its running "
    "minimum; LRMIN = the first LR at which the smoothed loss has covered 10 % of its fall from the start to "
    "that minimum"
)


# Steps on either side of a pick over which the loss's noise is measured.
NOISE_HALF_WIDTH = 10
# The widest bands (largest LR / smallest) of the range tests of the default
# recipe recorded in docs/runs/ (full width and width 32): LRMIN x1.451
# (4 steps of the default test; full-24ep-ls0.1-s0 among others), LRMAX
# x8.50 (23 steps; screen-w32-ls0.1-s2), rounded up. The LRMAX band is wide
# on every seed (a flat bottom, trap 12 of the design notes); only a band
# wider than these says something is off.
WIDEST_DEFAULT_BANDS = {"LRMIN": 1.46, "LRMAX": 8.51}


class LRRangeWarning(UserWarning):
    """The range-test curve gives no trustworthy LR range."""


@dataclasses.dataclass
class LRRangeResult:
    """Curves of an LR range test and the learning rates suggested from them.

    `losses` and `smoothed_losses` are each step's own batch loss and its
    moving average. `lr_min_band` and `lr_max_band` are the `(low, high)`
    LRs each pick could as well have been (`pick_bands`). `plot()` draws
    them (`keras_s11.figures.plot_lr_range_test`).
    """

    lrs: list
    losses: list
    smoothed_losses: list
    accuracies: list
    lr_min: float
    lr_max: float
    diverged: bool
    rule: str = LR_RULE
    lr_min_band: tuple = None
    lr_max_band: tuple = None

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
      on curves of any loss scale.

    On CIFAR-10 with this network (seed 0 of the README command,
    docs/runs/full-24ep-ema-s0) the smoothed loss falls from 2.50 at 1e-3 to
    2.16 at 0.29 and rises after: LRMAX = 0.29, LRMIN = 0.0064, so the one
    cycle ends about 1.7 decades below its peak.

    Args:
        lrs: Learning rate of each step.
        smoothed_losses: Smoothed loss of each step.
        rise: Relative rise above the running minimum that ends the search
            for LRMAX.
        fall: Fraction of the fall from the first loss to the minimum that
            marks LRMIN, in (0, 1).

    Returns:
        `(lr_min, lr_max)`, two of `lrs`, as floats. Where the loss never
        falls below its first value, both are the first LR, with an
        `LRRangeWarning`.

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


def pick_bands(lrs, losses, smoothed_losses, lr_min, lr_max, smoothing=0.9, rise=0.05, z=2.0):
    """The LRs each pick could as well have been: how sure the range test is.

    The noise of the smoothed loss is estimated from the curve itself: the
    spread of each step's loss around the smoothed loss, within
    `NOISE_HALF_WIDTH` steps of the pick, times the factor by which the
    moving average shrinks it, `sqrt((1 - smoothing) / (1 + smoothing))`. The band of LRMAX holds
    every LR up to the first rise that ends the search (as in
    `suggest_lr_range`) whose smoothed loss is within
    `z` of those noise levels of the minimum: a flat bottom, or a second dip
    as deep, gives a wide band. The band of LRMIN holds every LR up to LRMAX
    whose smoothed loss is within the same margin of the level that marks
    LRMIN: a slow start gives a wide band.

    Args:
        lrs: Learning rate of each step.
        losses: Each step's own loss.
        smoothed_losses: Smoothed loss of each step.
        lr_min, lr_max: The picks (`suggest_lr_range`), within the curve's
            LRs; each is read at the step of the nearest LR.
        smoothing: Weight of the past in the moving average of the curve.
        rise: As in `suggest_lr_range`.
        z: Width of the margin in noise levels, >= 0.

    Returns:
        `((low, high), (low, high))`: the bands of LRMIN and LRMAX.

    Raises:
        ValueError: If a pick is outside the curve's LRs, or `z` is
            negative.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    raw = np.asarray(losses, dtype=np.float64)
    smoothed = np.asarray(smoothed_losses, dtype=np.float64)
    if z < 0:
        raise ValueError(f"Argument `z` must be >= 0. Received: z={z}")
    best, onset = (_index_of(lrs, lr, name) for lr, name in ((lr_max, "lr_max"), (lr_min, "lr_min")))
    above = np.flatnonzero(~(smoothed[best:] <= (1 + rise) * smoothed[best]))
    end = best + (int(above[0]) if above.size else len(smoothed) - best)  # the search for LRMAX stopped here
    shrink = np.sqrt((1 - smoothing) / (1 + smoothing))
    margin_min, margin_max = (z * shrink * _local_noise(raw, smoothed, index) for index in (onset, best))
    near_min = np.flatnonzero(smoothed[:end] <= smoothed[best] + margin_max)
    near_onset = np.flatnonzero(np.abs(smoothed[: best + 1] - smoothed[onset]) <= margin_min)
    return _span(lrs, near_onset, lr_min), _span(lrs, near_min, lr_max)


def _local_noise(raw, smoothed, index, half_width=NOISE_HALF_WIDTH):
    """Standard deviation of the steps' losses around the smoothed loss, within `half_width` steps of `index`."""
    window = slice(max(0, index - half_width), index + half_width + 1)
    residuals = (raw - smoothed)[window]
    residuals = residuals[np.isfinite(residuals)]
    return float(np.std(residuals)) if residuals.size > 1 else 0.0


def _index_of(lrs, lr, name):
    """Index of the step whose LR is nearest `lr` (in log scale), which must lie within the curve's LRs."""
    if not lrs.min() * (1 - 1e-9) <= lr <= lrs.max() * (1 + 1e-9):
        raise ValueError(
            f"Argument `{name}` must lie within the curve's LRs ({lrs.min():.4g} to {lrs.max():.4g}). "
            f"Received: {name}={lr}"
        )
    return int(np.argmin(np.abs(np.log(lrs / lr))))


def _span(lrs, indices, pick):
    """`(lowest, highest)` of the LRs of `indices` and the pick."""
    values = np.append(lrs[indices], pick)
    return float(values.min()), float(values.max())


def warn_if_wide(lr_min_band, lr_max_band, widest=WIDEST_DEFAULT_BANDS):
    """Warns (`LRRangeWarning`) for each band wider than the widest of `widest` (a factor per pick).

    The default, `WIDEST_DEFAULT_BANDS`, holds the widest bands of the
    recorded runs of the default recipe: a band within them is how this
    network's curve always looks, and warns of nothing.
    """
    for name, (low, high) in (("LRMIN", lr_min_band), ("LRMAX", lr_max_band)):
        if high > widest[name] * low:
            warnings.warn(
                f"{name} is uncertain: the loss read is as good from {low:.4g} to {high:.4g} "
                f"(a factor {high / low:.2f}, wider than the x{widest[name]:.2f} of any recorded default run); "
                "another seed or machine may pick anywhere in that band.",
                LRRangeWarning,
                stacklevel=3,
            )


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
        verbose: Verbosity of `fit`; also prints the picks and their bands
            when > 0.
        **kwargs: Further `LRRangeTest` arguments.

    Returns:
        An `LRRangeResult`.

    Example:

    >>> result = find_lr_range(model, train_ds)
    >>> result.lr_min, result.lr_max, result.lr_max_band
    """
    from keras_s11.callbacks.lr_range_test import LRRangeTest

    test = LRRangeTest(start_lr, end_lr, num_steps, mode=mode, **kwargs)
    model.fit(
        repeat_input(dataset), steps_per_epoch=num_steps, epochs=1, callbacks=[test], verbose=verbose, shuffle=False
    )
    result = read_range_test(test)
    if verbose:
        (min_low, min_high), (max_low, max_high) = result.lr_min_band, result.lr_max_band
        bands = f"bands {min_low:.4g}-{min_high:.4g} and {max_low:.4g}-{max_high:.4g}"
        print(f"LR range test: LRMIN={result.lr_min:.4g}, LRMAX={result.lr_max:.4g}; {bands} ({result.rule})")
    return result


def read_range_test(test):
    """Reads LRMIN and LRMAX off an `LRRangeTest` that has run.

    The rule (`LR_RULE`, `suggest_lr_range`) reads the moving average of
    each step's own loss; each pick comes with its band (`pick_bands`). On
    CIFAR-10 the LRMAX band is wide on every seed (the curve's bottom is
    flat); a band wider than any recorded default run's warns
    (`LRRangeWarning`, `warn_if_wide`).

    Args:
        test: An `LRRangeTest` after `fit`.

    Returns:
        An `LRRangeResult`.

    Example:

    >>> test = LRRangeTest()
    >>> model.fit(train_ds, epochs=2, callbacks=[test])
    >>> read_range_test(test).lr_max
    """
    lr_min, lr_max = suggest_lr_range(test.lrs, test.smoothed_losses)
    bands = pick_bands(test.lrs, test.losses, test.smoothed_losses, lr_min, lr_max, test.smoothing)
    warn_if_wide(*bands)
    return LRRangeResult(
        lrs=test.lrs,
        losses=test.losses,
        smoothed_losses=test.smoothed_losses,
        accuracies=test.accuracies,
        lr_min=lr_min,
        lr_max=lr_max,
        diverged=test.diverged,
        lr_min_band=bands[0],
        lr_max_band=bands[1],
    )
