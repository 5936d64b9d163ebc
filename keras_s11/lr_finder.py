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


def _fitted_rule(curve, lagged=False):
    rule = (
        f"on the loss of {curve}, fitted against log LR (a local linear fit, Gaussian kernel of 0.5 decades): "
        "LRMAX = the LR at the lowest fitted loss before the fitted loss first rises 5 % above its running "
        "minimum; LRMIN = the first LR at which the fitted loss has covered 10 % of its fall from the start "
        "to that minimum"
    )
    if lagged:
        rule += (
            "; both picks then moved up the test's schedule by the moving average's mean lag "
            "(smoothing / (1 - smoothing) steps, 9 at 0.9), onto the smoothed reading's LR scale"
        )
    return rule


# The fitted readings (`read_range_test(..., reading="fitted" or "lagged")`), of a probe batch or of each
# step's own batch.
FITTED_LR_RULE = _fitted_rule("a fixed probe batch after each step")
FITTED_BATCH_LR_RULE = _fitted_rule("each step's own batch")
LAGGED_LR_RULE = _fitted_rule("a fixed probe batch after each step", lagged=True)
LAGGED_BATCH_LR_RULE = _fitted_rule("each step's own batch", lagged=True)

# How `read_range_test` reads a curve: `FITTED_LR_RULE`, `LAGGED_LR_RULE` or `LR_RULE` (the `*_BATCH_*`
# rules without a probe).
READINGS = ("fitted", "lagged", "smoothed")
# Width, in decades of LR, of the Gaussian kernel of `fit_loss_curve`.
FIT_WIDTH = 0.5

# Steps on either side of a pick over which the loss's noise is measured.
NOISE_HALF_WIDTH = 10
# A band wider than this factor (largest LR / smallest) warns: another seed,
# machine or library version may pick anywhere in it (docs/RESULTS.md).
WIDE_BAND = 1.5


class LRRangeWarning(UserWarning):
    """The range-test curve gives no trustworthy LR range."""


@dataclasses.dataclass
class LRRangeResult:
    """Curves of an LR range test and the learning rates suggested from them.

    `losses` and `smoothed_losses` are each step's own batch loss and its
    moving average; `probe_losses` the loss of the fixed probe batch after
    each step (`None` without one); `fitted_losses` the curve the picks
    were read from (`fit_loss_curve`, see `rule`). `lr_min_band` and
    `lr_max_band` are the `(low, high)` LRs each pick could as well have
    been (`pick_bands`). `plot()` draws them
    (`keras_s11.figures.plot_lr_range_test`).
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
    probe_losses: list = None
    fitted_losses: list = None

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


def fit_loss_curve(lrs, losses, width=FIT_WIDTH):
    """The losses of a range test, fitted against log LR without lag.

    Each step's value is that, at its LR, of a straight line fitted to all
    the losses against `log10(LR)`, each weighted by a Gaussian kernel of
    `width` decades around the step (a local linear fit). A moving average
    lags behind the growing LR and moves the lowest point of the curve to
    higher LRs; a symmetric kernel does not, and a wide one rounds a ragged
    bottom into one bowl, whose lowest point no longer jumps between its
    dips. Non-finite losses get no weight, and their steps no value: a
    diverged step ends the curve the rule reads.

    Args:
        lrs: Learning rate of each step, increasing.
        losses: Loss of each step.
        width: Standard deviation of the kernel, in decades of LR, > 0.

    Returns:
        The fitted losses, a float64 NumPy array (NaN at the steps whose
        loss is not finite).

    Raises:
        ValueError: If the curves are empty or of different lengths, or
            `width` is not positive.
    """
    x = np.log10(np.asarray(lrs, dtype=np.float64))
    y = np.asarray(losses, dtype=np.float64)
    if x.shape != y.shape or x.size == 0:
        raise ValueError(
            "Arguments `lrs` and `losses` must be non-empty and of equal length. "
            f"Received: {x.size} and {y.size} values"
        )
    if not width > 0:
        raise ValueError(f"Argument `width` must be > 0. Received: width={width}")
    finite = np.isfinite(y)
    offsets = x[None, :] - x[:, None]
    weights = np.exp(-0.5 * (offsets / width) ** 2) * finite
    s0, s1, s2 = (np.sum(weights * offsets**k, axis=1) for k in range(3))
    values = np.where(finite, y, 0.0)
    t0, t1 = np.sum(weights * values, axis=1), np.sum(weights * values * offsets, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = (s2 * t0 - s1 * t1) / (s0 * s2 - s1**2)
    return np.where(finite, fitted, np.nan)


def fit_noise_shrink(lrs, width=FIT_WIDTH):
    """Factor by which `fit_loss_curve` shrinks independent noise of the losses, mid-curve.

    `sqrt(sum w**2) / sum w` for the kernel weights `w` around the middle step.
    """
    x = np.log10(np.asarray(lrs, dtype=np.float64))
    weights = np.exp(-0.5 * ((x - x[len(x) // 2]) / width) ** 2)
    return float(np.sqrt(np.sum(weights**2)) / np.sum(weights))


def suggest_lr_range(lrs, smoothed_losses, rise=0.05, fall=0.1, interpolate=False):
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
        interpolate: Whether to read the picks between the steps: LRMAX at
            the vertex of the parabola through the lowest step and its two
            neighbours, LRMIN where the straight line between two steps
            crosses the level (both against log LR). Otherwise each pick is
            one of `lrs`.

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
    if not interpolate:
        return float(lrs[onset]), float(lrs[best])
    return _crossing(lrs, smoothed, onset, target), _vertex(lrs, smoothed, best)


def _crossing(lrs, curve, index, level):
    """LR where the curve, linear in log LR between steps `index - 1` and `index`, reaches `level`."""
    if index == 0:
        return float(lrs[0])
    x0, x1 = np.log(lrs[index - 1]), np.log(lrs[index])
    fraction = (curve[index - 1] - level) / (curve[index - 1] - curve[index])
    return float(np.exp(x0 + fraction * (x1 - x0)))


def _vertex(lrs, curve, index):
    """LR of the lowest point of the parabola (in log LR) through step `index` and its neighbours."""
    if index == 0 or index + 1 >= len(curve) or not np.all(np.isfinite(curve[index - 1 : index + 2])):
        return float(lrs[index])
    x = np.log(lrs[index - 1 : index + 2])
    a, b, _ = np.polyfit(x - x[1], curve[index - 1 : index + 2], 2)
    if a <= 0:
        return float(lrs[index])
    offset = np.clip(-b / (2 * a), (x[0] - x[1]) / 2, (x[2] - x[1]) / 2)
    return float(np.exp(x[1] + offset))


def pick_bands(lrs, losses, smoothed_losses, lr_min, lr_max, smoothing=0.9, rise=0.05, z=2.0, shrink=None):
    """The LRs each pick could as well have been: how sure the range test is.

    The noise of the smoothed loss is estimated from the curve itself: the
    spread of each step's loss around the smoothed loss, within
    `NOISE_HALF_WIDTH` steps of the pick, times the factor by which the
    smoothing shrinks it: `shrink`, or for a moving average
    `sqrt((1 - smoothing) / (1 + smoothing))`. The band of LRMAX holds
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
        shrink: Factor by which the smoothing shrinks the noise of the
            losses (`fit_noise_shrink` for `fit_loss_curve`); `None` for a
            moving average of weight `smoothing`.
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
    if shrink is None:
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


def warn_if_wide(lr_min_band, lr_max_band, wide=WIDE_BAND):
    """Warns (`LRRangeWarning`) for each band wider than the factor `wide`."""
    for name, (low, high) in (("LRMIN", lr_min_band), ("LRMAX", lr_max_band)):
        if high > wide * low:
            warnings.warn(
                f"{name} is uncertain: the loss read is as good from {low:.4g} to {high:.4g} "
                f"(a factor {high / low:.2f}); another seed or machine may pick anywhere in that band.",
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


def first_batch(dataset):
    """`(x, y)` of the first batch of a `tf.data.Dataset` or `keras.utils.PyDataset`."""
    if isinstance(dataset, keras.utils.PyDataset):
        batch = dataset[0]
    else:
        batch = next(iter(dataset.take(1)))
    return tuple(keras.ops.convert_to_numpy(part) for part in batch[:2])


def find_lr_range(
    model,
    dataset,
    start_lr=1e-3,
    end_lr=10.0,
    num_steps=100,
    mode="exponential",
    verbose=1,
    probe=True,
    reading="smoothed",
    **kwargs,
):
    """Runs `LRRangeTest` on `model` and suggests LRMIN and LRMAX.

    The model must be compiled (with a float learning rate); it is left
    exactly as it was (weights and optimizer state are restored).

    Args:
        model: A compiled Keras model.
        dataset: A training `tf.data.Dataset` or `keras.utils.PyDataset`
            (repeated here as needed, see `repeat_input`).
        start_lr, end_lr, num_steps, mode: As in `LRRangeTest`.
        verbose: Verbosity of `fit`; also prints the suggestion when > 0.
        probe: For the fitted readings: `True` measures the loss of the
            input's first batch after each step (`first_batch`), an `(x, y)`
            batch that one, `False` none.
        reading: How the curve is read, `"smoothed"`, `"fitted"` or
            `"lagged"` (`read_range_test`).
        **kwargs: Further `LRRangeTest` arguments.

    Returns:
        An `LRRangeResult`.
    """
    from keras_s11.callbacks.lr_range_test import LRRangeTest

    if reading not in READINGS:
        raise ValueError(f"Argument `reading` must be one of {READINGS}. Received: reading={reading!r}")
    dataset = repeat_input(dataset)
    if probe is True:
        probe = None if reading == "smoothed" else first_batch(dataset)
    test = LRRangeTest(start_lr, end_lr, num_steps, mode=mode, probe=probe or None, **kwargs)
    model.fit(dataset, steps_per_epoch=num_steps, epochs=1, callbacks=[test], verbose=verbose, shuffle=False)
    result = read_range_test(test, reading=reading)
    if verbose:
        (min_low, min_high), (max_low, max_high) = result.lr_min_band, result.lr_max_band
        bands = f"bands {min_low:.4g}-{min_high:.4g} and {max_low:.4g}-{max_high:.4g}"
        print(f"LR range test: LRMIN={result.lr_min:.4g}, LRMAX={result.lr_max:.4g}; {bands} ({result.rule})")
    return result


def read_range_test(test, reading="smoothed", width=FIT_WIDTH):
    """Reads LRMIN and LRMAX off an `LRRangeTest` that has run.

    `reading="smoothed"` (the default, `LR_RULE`): the rule reads the
    moving average of each step's own loss (`suggest_lr_range`), picks at
    the steps. On CIFAR-10 the picks wander over the curve's flat bottom
    from seed to seed (LRMAX 2.5x apart over five seeds, docs/RESULTS.md).

    `reading="fitted"` (`FITTED_LR_RULE`): the same rule on
    `fit_loss_curve` of the probe batch's losses, or of each step's own
    loss where the test had no probe, with picks read between steps
    (`suggest_lr_range(..., interpolate=True)`). The picks are about twice
    as steady, but lower (the moving average lags the growing LR), and the
    cycle they give has trained less accurate models so far.

    `reading="lagged"` (`LAGGED_LR_RULE`): the fitted picks and their
    bands moved up the schedule by the moving average's mean lag,
    `smoothing / (1 - smoothing)` steps (`along_schedule`): as steady as
    the fitted reading, on the smoothed reading's LR scale.

    Either way each pick comes with its band (`pick_bands`); a wide band
    warns (`LRRangeWarning`).

    Args:
        test: An `LRRangeTest` after `fit`.
        reading: `"fitted"`, `"lagged"` or `"smoothed"`.
        width: Width of the fit's kernel in decades of LR.

    Returns:
        An `LRRangeResult`.

    Example:

    >>> test = LRRangeTest(probe=first_batch(train_ds))
    >>> model.fit(train_ds, epochs=2, callbacks=[test])
    >>> read_range_test(test).lr_max, read_range_test(test, reading="fitted").lr_max
    """
    if reading not in READINGS:
        raise ValueError(f"Argument `reading` must be one of {READINGS}. Received: reading={reading!r}")
    if reading == "smoothed":
        fitted = None
        lr_min, lr_max = suggest_lr_range(test.lrs, test.smoothed_losses)
        bands = pick_bands(test.lrs, test.losses, test.smoothed_losses, lr_min, lr_max, test.smoothing)
        rule = LR_RULE
    else:
        losses = test.probe_losses or test.losses
        fitted = fit_loss_curve(test.lrs, losses, width)
        lr_min, lr_max = suggest_lr_range(test.lrs, fitted, interpolate=True)
        bands = pick_bands(test.lrs, losses, fitted, lr_min, lr_max, shrink=fit_noise_shrink(test.lrs, width))
        rule = FITTED_LR_RULE if test.probe_losses else FITTED_BATCH_LR_RULE
        if reading == "lagged":
            lag = test.smoothing / (1 - test.smoothing)
            lr_min, lr_max = (along_schedule(test.lrs, lr, lag) for lr in (lr_min, lr_max))
            bands = tuple(tuple(along_schedule(test.lrs, lr, lag) for lr in band) for band in bands)
            rule = LAGGED_LR_RULE if test.probe_losses else LAGGED_BATCH_LR_RULE
    warn_if_wide(*bands)
    return LRRangeResult(
        lrs=test.lrs,
        losses=test.losses,
        smoothed_losses=test.smoothed_losses,
        accuracies=test.accuracies,
        lr_min=lr_min,
        lr_max=lr_max,
        diverged=test.diverged,
        rule=rule,
        lr_min_band=bands[0],
        lr_max_band=bands[1],
        probe_losses=test.probe_losses or None,
        fitted_losses=None if fitted is None else [float(v) if np.isfinite(v) else None for v in fitted],
    )


def along_schedule(lrs, lr, steps):
    """The LR `steps` steps (a float) further along a range test's schedule than `lr`.

    Both are read between steps, linear in log LR; past the last step the
    answer is the last LR.

    Args:
        lrs: The test's LRs, increasing.
        lr: An LR within them.
        steps: How many steps to move, >= 0.

    Returns:
        The LR, a float.

    Example:

    >>> along_schedule([0.001, 0.01, 0.1, 1.0], 0.01, 1.5)
    0.316...
    """
    log_lrs = np.log(np.asarray(lrs, dtype=np.float64))
    step = np.arange(log_lrs.size)
    position = np.interp(np.log(lr), log_lrs, step) + steps
    if position >= step[-1]:
        return float(lrs[-1])
    return float(np.exp(np.interp(position, step, log_lrs)))


def moving_average(losses, smoothing=0.9):
    """The bias-corrected exponential moving average that `LRRangeTest` records as `smoothed_losses`."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = smoothing * average + (1 - smoothing) * loss
        smoothed.append(average / (1 - smoothing**step))
    return np.array(smoothed)
