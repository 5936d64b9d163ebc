"""Learning-rate figures: the LR range test, a cyclical policy, the LR of every step."""

import numpy as np
from matplotlib.figure import Figure


def plot_lr_range_test(lrs, losses, smoothed_losses, accuracies=None, lr_min=None, lr_max=None):
    """Loss (raw and smoothed) and accuracy against the LR, log x-axis.

    Args:
        lrs, losses, smoothed_losses, accuracies: Per-step curves of
            `LRRangeTest` (`accuracies` may be `None`).
        lr_min, lr_max: Suggested learning rates, marked when given.

    Returns:
        A `matplotlib.figure.Figure` with one or two axes.
    """
    has_accuracy = accuracies is not None and any(a is not None for a in accuracies)
    figure = Figure(figsize=(11 if has_accuracy else 6, 4), layout="constrained")
    axes = figure.subplots(1, 2 if has_accuracy else 1, squeeze=False)[0]
    axes[0].plot(lrs, losses, color="0.75", lw=1, label="loss of each step")
    axes[0].plot(lrs, smoothed_losses, color="C0", lw=2, label="smoothed loss")
    axes[0].set_ylabel("training loss")
    axes[0].set_title("LR range test: loss")
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
        ax.legend(loc="best", fontsize=8)
    return figure


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
