"""Runs the LR range test on a model and suggests LRMIN and LRMAX."""

import dataclasses

import numpy as np

from callbacks.lr_range_test import LRRangeTest

LR_RULE = (
    "LRMAX = the LR at the lowest smoothed loss before the smoothed loss first rises "
    "5 % above its running minimum; LRMIN = LRMAX / 10"
)


@dataclasses.dataclass
class LRRangeResult:
    """Curves of an LR range test and the learning rates suggested from them."""

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


def suggest_lr_range(lrs, smoothed_losses, rise=0.05, ratio=10.0):
    """Suggests `(lr_min, lr_max)` from the curves of an LR range test.

    LRMAX is the learning rate at which the smoothed loss is lowest, searched
    only up to the first step where it climbs `rise` (5 %) above its running
    minimum: past that point training is unstable, and a BN network that
    later recovers at absurd learning rates must not be mistaken for one that
    learns there. On CIFAR-10 the loss falls steadily up to that point and
    turns ragged right after it (see docs/RESULTS.md). LRMIN is
    `LRMAX / ratio`: the one cycle starts and ends a decade below its peak.

    Args:
        lrs: Learning rate of each step.
        smoothed_losses: Smoothed loss of each step.
        rise: Relative rise above the running minimum that ends the search.
        ratio: LRMAX / LRMIN.

    Returns:
        `(lr_min, lr_max)` as floats.

    Raises:
        ValueError: If the curves are empty, of different lengths, or hold no
            finite loss.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed_losses, dtype=np.float64)
    if lrs.shape != smoothed.shape or lrs.size == 0:
        raise ValueError(
            "Arguments `lrs` and `smoothed_losses` must be non-empty and of equal length. "
            f"Received: {lrs.size} and {smoothed.size} values"
        )
    if not np.isfinite(smoothed).any():
        raise ValueError("The range test recorded no finite loss: start it at a lower LR.")
    best = None
    for i, loss in enumerate(smoothed):
        if not np.isfinite(loss):
            break
        if best is None or loss < smoothed[best]:
            best = i
        elif loss > (1 + rise) * smoothed[best]:
            break
    lr_max = float(lrs[best])
    return lr_max / ratio, lr_max


def find_lr_range(model, dataset, start_lr=1e-3, end_lr=10.0, num_steps=100, mode="exponential", verbose=1, **kwargs):
    """Runs `LRRangeTest` on `model` and suggests LRMIN and LRMAX.

    The model must be compiled (with a float learning rate); it is left
    exactly as it was (weights and optimizer state are restored).

    Args:
        model: A compiled Keras model.
        dataset: A training `tf.data.Dataset` (repeated here as needed).
        start_lr, end_lr, num_steps, mode: As in `LRRangeTest`.
        verbose: Verbosity of `fit`; also prints the suggestion when > 0.
        **kwargs: Further `LRRangeTest` arguments.

    Returns:
        An `LRRangeResult`.
    """
    test = LRRangeTest(start_lr, end_lr, num_steps, mode=mode, **kwargs)
    model.fit(dataset.repeat(), steps_per_epoch=num_steps, epochs=1, callbacks=[test], verbose=verbose, shuffle=False)
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
