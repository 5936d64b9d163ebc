"""The rule that reads LRMIN and LRMAX off an LR range test's curve, their bands, and its warnings."""

import dataclasses
import math
import warnings

import numpy as np

LR_RULE = (
    "LRMAX = the LR at the lowest smoothed loss before the smoothed loss first rises 5 % (or 3 noise levels, "
    "if more) above its running minimum; LRMIN = the first LR from which the smoothed loss stays 10 % of its "
    "fall from the start to that minimum below the start"
)

# Steps on either side of a pick over which the loss's noise is measured.
NOISE_HALF_WIDTH = 10
# The widest bands (largest LR / smallest) of the range tests of the two
# recipes recorded in docs/runs/ (full width and width 32). The default's:
# LRMIN x1.451 (4 steps of the default test; full-24ep-ls0.1-s0 among
# others), LRMAX x8.50 (23 steps; screen-w32-ls0.1-s2). The whitened
# PrepLayer of `recipe="fast"` widens LRMIN's at full width: x1.92
# (range-test-whiten-s0). Rounded up. The LRMAX band is wide on every seed
# (a flat bottom, trap 12 of the design notes); only a band wider than these
# says something is off.
WIDEST_RECIPE_BANDS = {"LRMIN": 1.93, "LRMAX": 8.51}
# A change of the smoothed loss counts (a rise that ends the search for
# LRMAX, the fall that makes a pick at all) only when larger than this many
# of its noise levels, as well as larger than `rise`. The noise of a
# cross-entropy at batch 512 (`step_noise` 0.007 to 0.019 over the curves
# recorded in docs/runs/) stays below the 5 % floor, so the CIFAR-10
# readings are those of the 5 % rule; a mean squared error at batch 64
# (0.30 in examples/own_model_regression.py) needs larger changes.
NOISE_LEVELS = 3.0
# A step's loss this many times the minimum of the smoothed loss, after it,
# is a divergence: the losses from there on are no measure of the noise
# (`pick_bands`).
DIVERGED = 2.0
# Fewer steps than this many lengths of the moving average (1 / (1 -
# smoothing): 10 steps at 0.9) hold too little curve to read.
MIN_AVERAGE_LENGTHS = 3


class LRRangeWarning(UserWarning):
    """The range-test curve gives no trustworthy LR range."""


@dataclasses.dataclass
class _Search:
    best: int  # index of the lowest smoothed loss before the rise
    end: str  # why the search stopped: "rise", "nonfinite" or "end" (of the curve)


def step_noise(losses):
    """Relative noise of one step's loss, estimated from the curve of each step's own loss.

    The robust spread (1.4826 times the median absolute deviation) of the
    change of the log loss from one step to the next, over `sqrt(2)`: the
    slow trend of the curve and a few exploding steps barely move it.

    Args:
        losses: Each step's own loss.

    Returns:
        A float >= 0: about 0.01 for a cross-entropy at batch 512 on
        CIFAR-10, 0 for a curve of fewer than three positive finite losses.
    """
    raw = np.asarray(losses, dtype=np.float64)
    unreadable = np.flatnonzero(~(np.isfinite(raw) & (raw > 0)))  # the log is read up to the first
    raw = raw[: unreadable[0]] if unreadable.size else raw
    changes = np.diff(np.log(raw))
    if changes.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(changes - np.median(changes))) / np.sqrt(2))


def _noise_up_to(raw, index):
    """`step_noise` of the losses of the `2 * NOISE_HALF_WIDTH` steps up to `index`; 0 without losses.

    Measured there, not over the whole curve: the noise of a loss differs
    from its flat start to its fall, and the steps after `index` (a
    divergence) do not count.
    """
    if raw is None:
        return 0.0
    return step_noise(raw[max(0, index + 1 - 2 * NOISE_HALF_WIDTH) : index + 1])


def _average_noise(smoothing, steps):
    """Noise of a bias-corrected moving average of `steps` steps, in noise levels of one step's loss."""
    steps = np.asarray(steps, dtype=np.float64)
    if smoothing == 0:
        return np.ones_like(steps)
    return np.sqrt((1 - smoothing) * (1 + smoothing**steps) / ((1 + smoothing) * (1 - smoothing**steps)))


def _rise_needed(noise, smoothing, rise, index, best):
    """Factor above the smoothed loss at `best` that the one at `index` must exceed to be more than noise.

    `1 + rise`, or `NOISE_LEVELS` noise levels of the difference of the two
    moving averages if more (in log scale, in which the noise is measured).
    """
    spread = np.hypot(_average_noise(smoothing, index + 1), _average_noise(smoothing, best + 1))
    return np.maximum(1 + rise, np.exp(NOISE_LEVELS * noise * spread))


def _lowest_before_rise(smoothed, rise, raw=None, smoothing=0.9):
    """The lowest finite loss before the first rise above the running minimum, and why the search stopped.

    A rise must exceed `rise` and the noise of the losses up to the minimum
    (`_rise_needed`, `_noise_up_to`). Rises count only once the loss has
    fallen `rise` below its first value: the noise of a flat start is no
    sign of instability.
    """
    best, falling, noise = None, False, 0.0
    for i, loss in enumerate(smoothed):
        if not np.isfinite(loss):
            return _Search(best, "nonfinite")
        falling = falling or loss <= (1 - rise) * smoothed[0]
        if best is None or loss < smoothed[best]:
            best, noise = i, _noise_up_to(raw, i)
        elif falling and loss > _rise_needed(noise, smoothing, rise, i, best) * smoothed[best]:
            return _Search(best, "rise")
    return _Search(best, "end")


def _averaged_start(best, smoothing):
    """Index of the step at which the moving average has averaged its first steps: one length of it, or to `best`."""
    return max(min(round(1 / (1 - smoothing)), best) - 1, 0)


def _fell_clearly(smoothed, best, rise, raw, smoothing):
    """Whether the loss at `best` lies below the start by `rise` and by more than the noise.

    The start is the first smoothed loss, or, if higher, the smoothed loss
    once the moving average has averaged the first steps
    (`_averaged_start`): the first is one step's loss, as noisy as one.
    """
    start = _averaged_start(best, smoothing)
    needed = _rise_needed(_noise_up_to(raw, best), smoothing, rise, best, start)
    return smoothed[best] * needed < max(smoothed[0], smoothed[start])


def _start_level(smoothed, best, fall, raw, smoothing):
    """The loss the fall is measured from: the first smoothed loss, unless it is too noisy to mark LRMIN.

    The first smoothed loss is one step's loss. Where its noise (that of
    the first steps' losses) exceeds the `fall` of the fall that marks
    LRMIN, the level is read once the moving average has averaged the
    first steps (`_averaged_start`) instead.
    """
    noise = _noise_up_to(raw, 2 * NOISE_HALF_WIDTH - 1)
    if noise * smoothed[0] <= fall * (smoothed[0] - smoothed[best]):
        return smoothed[0]
    return smoothed[_averaged_start(best, smoothing)]


def suggest_lr_range(lrs, smoothed_losses, rise=0.05, fall=0.1, *, losses=None, smoothing=0.9):
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
    - LRMIN is the first learning rate from which the smoothed loss stays
      below its first value by `fall` (10 %) of its whole fall, from the
      first step down to the minimum at LRMAX: where learning has clearly
      begun. A fraction of the fall, not a fixed slope or a fixed ratio to
      LRMAX, reads the same point on curves of any loss scale.

    Given each step's own `losses`, the rule also measures their noise
    (`step_noise`, over the 20 steps up to the running minimum): a rise
    must then also exceed `NOISE_LEVELS` (3) noise levels of the smoothed
    loss, or the noise of a mean squared error would end the search at its
    first wobble; so must the fall from the start for a pick to be made at
    all. Where the first step's loss is noisier than the `fall` of the fall
    that marks LRMIN, the start is read once the moving average has
    averaged its first steps (10 at 0.9). On CIFAR-10 the noise stays below
    the 5 % and the picks are those of the 5 % rule.

    On CIFAR-10 with this network (seed 0 of the README command,
    docs/runs/full-24ep-ls0.1-s0) the smoothed loss falls from 2.50 at 1e-3
    to 2.08 at 0.15 and rises after: LRMAX = 0.15, LRMIN = 0.0064, so the
    one cycle ends about 1.4 decades below its peak.

    Where the curve gives no trustworthy pick, an `LRRangeWarning` says
    why: the loss never fell clearly below its first value (both picks are
    then the first LR); it fell from the first steps, so LRMIN may lie
    below the range; it did not rise again before the range's end, so
    LRMAX may lie above it; the curve is too short for its moving average;
    the loss is not positive, which a rule of relative changes cannot read.

    Args:
        lrs: Learning rate of each step.
        smoothed_losses: Smoothed loss of each step.
        rise: Relative rise above the running minimum that ends the search
            for LRMAX.
        fall: Fraction of the fall from the first loss to the minimum that
            marks LRMIN, in (0, 1).
        losses: Each step's own loss, to measure the noise; `None` reads
            the curve as free of noise.
        smoothing: Weight of the past in the moving average of the curve
            (that of `LRRangeTest`), in [0, 1).

    Returns:
        `(lr_min, lr_max)`, two of `lrs`, as floats. Where the loss never
        falls clearly below its first value, both are the first LR.

    Raises:
        ValueError: If the curves are empty, of different lengths, or hold no
            finite loss, or `fall` or `smoothing` is out of range.

    Example:

    >>> suggest_lr_range([0.01, 0.1, 1.0, 10.0], [2.0, 1.5, 1.0, 3.0])
    (0.1, 1.0)
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed_losses, dtype=np.float64)
    if lrs.shape != smoothed.shape or lrs.size == 0:
        raise ValueError(
            "Arguments `lrs` and `smoothed_losses` must be non-empty and of equal length. "
            f"Received: {lrs.size} and {smoothed.size} values"
        )
    if losses is not None and len(losses) != lrs.size:
        raise ValueError(
            f"Argument `losses` must hold one loss a step. Received: {len(losses)} losses for {lrs.size} steps"
        )
    if not 0 < fall < 1:
        raise ValueError(f"Argument `fall` must be in (0, 1). Received: fall={fall}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"Argument `smoothing` must be in [0, 1). Received: smoothing={smoothing}")
    if not np.isfinite(smoothed[0]):
        raise ValueError("The range test recorded no finite loss at its first step: start it at a lower LR.")
    raw = None if losses is None else np.asarray(losses, dtype=np.float64)
    search = _lowest_before_rise(smoothed, rise, raw, smoothing)
    best = search.best
    finite = smoothed[np.isfinite(smoothed)]
    if finite.min() <= 0:
        warnings.warn(
            f"The range-test loss is not positive (lowest smoothed loss {finite.min():.4g}): the rule reads rises "
            "and falls relative to the loss, which a loss that can be 0 or negative does not allow. Read the "
            "figure yourself, or range-test a positive loss.",
            LRRangeWarning,
            stacklevel=2,
        )
    if best == 0:
        warnings.warn(
            f"The range-test loss was lowest at the first LR ({lrs[0]:.4g}): the model may be trained "
            "already, or the range starts too high. Start the test at a lower LR.",
            LRRangeWarning,
            stacklevel=2,
        )
        return float(lrs[0]), float(lrs[0])
    if not _fell_clearly(smoothed, best, rise, raw, smoothing):
        warnings.warn(
            f"The range-test loss never fell clearly below its first value ({smoothed[0]:.4g}; lowest "
            f"{smoothed[best]:.4g} at LR {lrs[best]:.4g}, {1 - smoothed[best] / smoothed[0]:.1%} lower, within "
            f"the 5 % or {NOISE_LEVELS:g} noise levels a fall must exceed): no LR of the range trains the model. "
            "It may be trained already, or the range ends too low. Both picks are the first LR.",
            LRRangeWarning,
            stacklevel=2,
        )
        return float(lrs[0]), float(lrs[0])
    start = _start_level(smoothed, best, fall, raw, smoothing)
    target = start - fall * (start - smoothed[best])
    onset = int(np.flatnonzero(~(smoothed[: best + 1] <= target))[-1]) + 1  # stays below the target from here
    for message in _short_ends(lrs, search, onset, smoothing):
        warnings.warn(message, LRRangeWarning, stacklevel=2)
    return float(lrs[onset]), float(lrs[best])


def _short_ends(lrs, search, onset, smoothing):
    """What keeps a pick from being read: a curve too short for its moving average, or a range too narrow."""
    length = round(1 / (1 - smoothing), 9)  # 10 steps, not 10.000000000000002, at 0.9
    steps = len(lrs)
    if steps < MIN_AVERAGE_LENGTHS * length:
        lag = smoothing / (1 - smoothing)
        yield (
            f"The range test holds only {steps} steps, fewer than {math.ceil(MIN_AVERAGE_LENGTHS * length)} "
            f"({MIN_AVERAGE_LENGTHS} lengths of its moving average, {length:.0f} steps at smoothing={smoothing}): "
            f"the smoothed loss lags each step's loss by about {lag:.0f} steps, a sizeable part of the curve, "
            "so both picks are blurred. Run more steps (`num_steps`)."
        )
    if onset < length:
        yield (
            f"The range-test loss fell from its first steps (LRMIN at step {onset}, within the "
            f"{length:.0f} steps of the moving average): LRMIN ({lrs[onset]:.4g}) may lie below the range. "
            f"Start the test at a lower LR than {lrs[0]:.4g}."
        )
    if search.end == "end":
        best = search.best
        where = (
            f"was still falling at the last LR ({lrs[best]:.4g}), so LRMAX is the range's end"
            if best == steps - 1
            else f"never rose clearly above its minimum (at LR {lrs[best]:.4g}) before the range's end "
            f"({lrs[-1]:.4g}), so where it stops falling is not known"
        )
        yield f"The range-test loss {where}: LRMAX may lie above the range. End the test at a higher LR."


def pick_bands(lrs, losses, smoothed_losses, lr_min, lr_max, smoothing=0.9, rise=0.05, z=2.0):
    """The LRs each pick could as well have been: how sure the range test is.

    The noise of the smoothed loss is estimated from the curve itself: the
    spread of each step's loss around the smoothed loss, within
    `NOISE_HALF_WIDTH` steps of the pick, times the factor by which the
    moving average shrinks it, `sqrt((1 - smoothing) / (1 + smoothing))`. The band of LRMAX holds
    every LR up to the first rise that ends the search (as in
    `suggest_lr_range`, noise included) whose smoothed loss is within
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
    needed = _rise_needed(_noise_up_to(raw, best), smoothing, rise, np.arange(best, len(smoothed)), best)
    above = np.flatnonzero(~(smoothed[best:] <= needed * smoothed[best]))
    end = best + (int(above[0]) if above.size else len(smoothed) - best)  # the search for LRMAX stopped here
    shrink = np.sqrt((1 - smoothing) / (1 + smoothing))
    # From the first step after the minimum whose loss is twice it, the loss diverges: no measure of the noise.
    diverging = np.flatnonzero(~(raw[best + 1 :] <= DIVERGED * smoothed[best])) + 1
    calm = best + (int(diverging[0]) if diverging.size else len(smoothed) - best)
    margin_min, margin_max = (z * shrink * _local_noise(raw[:calm], smoothed[:calm], index) for index in (onset, best))
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


def warn_if_wide(lr_min_band, lr_max_band, widest=WIDEST_RECIPE_BANDS):
    """Warns (`LRRangeWarning`) for each band wider than the widest of `widest` (a factor per pick).

    The default, `WIDEST_RECIPE_BANDS`, holds the widest bands of the
    recorded runs of the recipes: a band within them is how this network's
    curve looks, and warns of nothing.
    """
    for name, (low, high) in (("LRMIN", lr_min_band), ("LRMAX", lr_max_band)):
        if high > widest[name] * low:
            warnings.warn(
                f"{name} is uncertain: the loss read is as good from {low:.4g} to {high:.4g} "
                f"(a factor {high / low:.2f}, wider than the x{widest[name]:.2f} of any recorded run of the "
                "recipes on CIFAR-10); another seed or machine may pick anywhere in that band.",
                LRRangeWarning,
                stacklevel=3,
            )
