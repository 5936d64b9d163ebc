"""Figures. Functions return a `matplotlib.figure.Figure`; they never show it."""

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
