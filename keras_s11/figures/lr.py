"""Learning-rate figures: the LR range test, a cyclical policy, the LR of every step."""

import textwrap
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure


def plot_lr_range_test(
    lrs,
    losses=None,
    smoothed_losses=None,
    accuracies=None,
    lr_min=None,
    lr_max=None,
    *,
    diverged=None,
    rule=None,
    lr_min_band=None,
    lr_max_band=None,
):
    """Loss (raw and smoothed) and accuracy against the LR, log x-axis.

    Takes the result in one piece, `plot_lr_range_test(result)`, where
    `result` is what `keras_s11.lr_finder.find_lr_range` returns, its
    `to_dict()` (also as `**result.to_dict()`), the `lr_range_test.json` of
    a run, or an `LRRangeTest` callback after `fit`; or the curves one by one
    as before. A result's bands (`lr_min_band`, `lr_max_band`, see
    `keras_s11.lr_finder.pick_bands`) are shaded. When LRMAX is the first LR
    tried (the loss never fell: the model was trained already, or the range
    starts too high), the title says so.

    Args:
        lrs: An `LRRangeResult`, a dict of its fields, an `LRRangeTest`; or
            the learning rate of each step.
        losses, smoothed_losses, accuracies: Per-step curves of
            `LRRangeTest` (`accuracies` may be `None`); only with `lrs` a
            sequence.
        lr_min, lr_max: Suggested learning rates, marked when given.
        diverged: Whether the test stopped because the loss diverged; noted
            in the title when true.
        rule: The rule that picked LRMIN and LRMAX, written under the axes
            when given.
        lr_min_band, lr_max_band: `(low, high)` LRs each pick could as well
            have been, shaded when given.

    Returns:
        A `matplotlib.figure.Figure` with one or two axes.

    Raises:
        ValueError: If a result is combined with curves, or curves are
            missing or of different lengths.

    Example:

    >>> result = find_lr_range(model, train_ds)
    >>> plot_lr_range_test(result).savefig("lr_range_test.png")
    """
    if _is_result(lrs):
        curves = (("losses", losses), ("smoothed_losses", smoothed_losses))
        given = [name for name, value in curves if value is not None]
        if given:
            raise ValueError(
                f"Pass either a range-test result or the curves, not both. Received: a {type(lrs).__name__} "
                f"and {', '.join(given)}"
            )
        fields = _range_test_fields(lrs)
        lrs, losses, smoothed_losses = fields["lrs"], fields["losses"], fields["smoothed_losses"]
        accuracies = fields.get("accuracies") if accuracies is None else accuracies
        lr_min = fields.get("lr_min") if lr_min is None else lr_min
        lr_max = fields.get("lr_max") if lr_max is None else lr_max
        diverged = fields.get("diverged") if diverged is None else diverged
        rule = fields.get("rule") if rule is None else rule
        lr_min_band = fields.get("lr_min_band") if lr_min_band is None else lr_min_band
        lr_max_band = fields.get("lr_max_band") if lr_max_band is None else lr_max_band
    bands = {"LRMIN": lr_min_band, "LRMAX": lr_max_band}
    if losses is None or smoothed_losses is None or not len(lrs) == len(losses) == len(smoothed_losses):
        raise ValueError(
            "Arguments `lrs`, `losses` and `smoothed_losses` must be curves of the same length. Received lengths: "
            f"{len(lrs)}, {None if losses is None else len(losses)}, "
            f"{None if smoothed_losses is None else len(smoothed_losses)}"
        )
    at_start = lr_max is not None and len(lrs) and lr_max <= lrs[0] * (1 + 1e-9)
    has_accuracy = accuracies is not None and any(a is not None for a in accuracies)
    figure = Figure(figsize=(11 if has_accuracy else 6, 4), layout="constrained")
    axes = figure.subplots(1, 2 if has_accuracy else 1, squeeze=False)[0]
    axes[0].plot(lrs, losses, color="0.75", lw=1, label="loss of each step")
    axes[0].plot(lrs, smoothed_losses, color="C0", lw=2, label="smoothed loss")
    axes[0].set_ylabel("training loss")
    notes = ("; diverged" if diverged else "") + ("; LRMAX at the first LR" if at_start else "")
    axes[0].set_title(f"LR range test: loss{notes}")
    if has_accuracy:
        axes[1].plot(lrs, [np.nan if a is None else a for a in accuracies], color="C2", lw=1)
        axes[1].set_ylabel("training accuracy of each step")
        axes[1].set_title("LR range test: accuracy")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.grid(True, which="both", alpha=0.3)
        for value, name, color in ((lr_min, "LRMIN", "C1"), (lr_max, "LRMAX", "C3")):
            if value is not None:
                ax.axvline(value, color=color, ls="--", lw=1.5, label=f"{name} = {value:.3g}")
            band = bands.get(name)
            if band is not None:
                ax.axvspan(*band, color=color, alpha=0.12, label=f"{name} band {band[0]:.3g}-{band[1]:.3g}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    if rule:
        figure.supxlabel(textwrap.fill(f"Rule: {rule}", 140 if has_accuracy else 80), fontsize=7, color="0.3")
    return figure


def _is_result(value):
    return isinstance(value, Mapping) or hasattr(value, "lrs")


def _range_test_fields(result):
    """The curves and suggestions of a result object, a dict of its fields, or an `LRRangeTest`."""
    if isinstance(result, Mapping):
        fields = dict(result)
    else:
        names = (
            "lrs",
            "losses",
            "smoothed_losses",
            "accuracies",
            "lr_min",
            "lr_max",
            "diverged",
            "rule",
            "lr_min_band",
            "lr_max_band",
        )
        fields = {name: getattr(result, name) for name in names if hasattr(result, name)}
    missing = [name for name in ("lrs", "losses", "smoothed_losses") if fields.get(name) is None]
    if missing:
        raise ValueError(
            "Argument `lrs` must be a sequence of learning rates or a range-test result with "
            f"`lrs`, `losses` and `smoothed_losses`. Received: a {type(result).__name__} without {', '.join(missing)}"
        )
    return fields


def plot_cyclic_lr(lrs, step_size, mode="triangular", base_lr=None, max_lr=None):
    """A cyclical learning-rate policy: the LR of every iteration.

    Args:
        lrs: Learning rate of each iteration, e.g. from
            `keras_s11.clr.cyclic_lr(np.arange(n), ...)`.
        step_size: Iterations in half a cycle (marks the cycle boundaries).
        mode: Name of the policy, for the title.
        base_lr, max_lr: The policy's bounds, drawn as reference lines when given.

    Returns:
        A `matplotlib.figure.Figure` with one axis.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    ax = figure.subplots()
    ax.plot(np.arange(len(lrs)), lrs, color="C0", lw=2, label="LR of each iteration")
    for boundary in range(2 * step_size, len(lrs) - 1, 2 * step_size):
        ax.axvline(boundary, color="0.75", lw=1, zorder=0)
    for value, name, color in ((max_lr, "max_lr", "C3"), (base_lr, "base_lr", "C1")):
        if value is not None:
            ax.axhline(value, color=color, ls="--", lw=1, label=f"{name} = {value:.3g}")
    ax.set_xlim(0, max(len(lrs) - 1, 1))
    ax.set_ylim(0, 1.25 * max(lrs.max(), max_lr or 0))
    ax.set_xlabel(f"iteration (step size {step_size}; grey lines: a new cycle starts)")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Cyclical learning rate, {mode} mode")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, ncols=3)
    return figure


def plot_lr_per_step(lrs, steps_per_epoch, lr_min=None, lr_max=None):
    """The learning rate set at every training step, against the epoch.

    Args:
        lrs: Learning rate of each step, in order (`OneCycle.lrs`).
        steps_per_epoch: Steps per epoch (converts steps to epochs).
        lr_min, lr_max: LRMIN and LRMAX, drawn as reference lines when given.

    Returns:
        A `matplotlib.figure.Figure` with one axis.

    Raises:
        ValueError: If `steps_per_epoch` is not a positive integer.
    """
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"Argument `steps_per_epoch` must be a positive integer. Received: {steps_per_epoch!r}")
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    ax = figure.subplots()
    epochs = np.arange(len(lrs)) / steps_per_epoch
    ax.plot(epochs, lrs, color="C0", lw=2, label="LR of each step")
    for value, name, color in ((lr_max, "LRMAX", "C3"), (lr_min, "LRMIN", "C1")):
        if value is not None:
            ax.axhline(value, color=color, ls="--", lw=1, label=f"{name} = {value:.3g}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Learning rate at every step ({len(lrs)} steps, {steps_per_epoch} per epoch)")
    ax.set_xlim(0, len(lrs) / steps_per_epoch)
    ax.set_ylim(0, 1.25 * max(np.max(lrs), lr_max or 0))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, ncols=3)
    return figure
