"""Training curves: loss and accuracy per step and per epoch."""

import numpy as np
from matplotlib.figure import Figure


def _percent(values):
    return 100 * np.asarray(values, dtype=np.float64)


def _epochs(history):
    """Epoch numbers 1..E of a history (the values are end-of-epoch)."""
    return np.arange(1, len(history["loss"]) + 1)


def _check_history(history, keys):
    missing = [key for key in keys if key not in history]
    if missing:
        raise ValueError(f"Argument `history` lacks {missing}. Received keys: {sorted(history)}")


def describe_loss(label_smoothing=None, weight_decay=None):
    """The y-axis label of a loss curve: what Keras's `loss` and `val_loss` sum.

    Both hold the compiled loss (with its label smoothing) plus the L2
    penalty of the kernel regularisers, so they are above the plain
    cross-entropy. `None` means "as `scripts/train.py` compiles, value not
    known"; 0 leaves the term out.

    Args:
        label_smoothing: Label smoothing of the loss.
        weight_decay: L2 weight decay of the regularisers.

    Returns:
        A string of one or two lines.
    """
    smoothing = ""
    if label_smoothing is None or label_smoothing:
        smoothing = "label smoothing" if label_smoothing is None else f"label smoothing {label_smoothing:g}"
    penalty = ""
    if weight_decay is None or weight_decay:
        penalty = "+ L2 penalty" if weight_decay is None else f"+ L2 {weight_decay:g}"
    if smoothing:
        return f"loss (cross-entropy with\n{smoothing}{' ' + penalty if penalty else ''})"
    return f"loss (cross-entropy\n{penalty})" if penalty else "loss (cross-entropy)"


def plot_training_curves(history, step_history=None, steps_per_epoch=None, loss_label=None):
    """Training loss and accuracy (top), test loss and accuracy (bottom), 2x2.

    Training values are drawn per step when `step_history` holds each step's
    own loss and accuracy; otherwise (runs that recorded only epochs) the
    epoch means are drawn, and the titles say so. Test values are per epoch.
    The loss axes say what the loss sums (`describe_loss`): label smoothing
    and the L2 penalty included.

    Args:
        history: `History.history`: per-epoch lists `loss`, `accuracy`,
            `val_loss`, `val_accuracy` (fractions).
        step_history: Optional dict with per-step lists `loss` and
            `accuracy` (e.g. `keras_s11.callbacks.StepHistory.history`).
        steps_per_epoch: Steps per epoch; needed with `step_history`.
        loss_label: Label of the loss axes; default `describe_loss()`, the
            loss `scripts/train.py` compiles.

    Returns:
        A `matplotlib.figure.Figure` with four axes.

    Raises:
        ValueError: If a key is missing, or `step_history` comes without
            `steps_per_epoch`.
    """
    _check_history(history, ("loss", "accuracy", "val_loss", "val_accuracy"))
    if step_history is not None and not steps_per_epoch:
        raise ValueError("Argument `steps_per_epoch` is needed with `step_history`.")
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    (train_loss, train_acc), (test_loss, test_acc) = figure.subplots(2, 2, sharex=True)
    epochs = _epochs(history)
    for ax, key, name, scale in (
        (train_loss, "loss", "Training loss", np.asarray),
        (train_acc, "accuracy", "Training accuracy", _percent),
    ):
        if step_history is not None:
            values = np.asarray(step_history[key], dtype=np.float64)
            steps = np.arange(1, len(values) + 1) / steps_per_epoch
            ax.plot(steps, scale(values), color="0.6", lw=0.8, label="each step (augmented batch)")
            ax.plot(epochs - 0.5, scale(history[key]), "o-", color="C0", ms=3, lw=1.5, label="mean over the epoch")
            ax.set_title(f"{name} per step")
            ax.legend(loc="best", fontsize=8)
        else:  # one line, the title says what it is: no legend
            ax.plot(epochs, scale(history[key]), "o-", color="C0", ms=3, lw=1.5, label="mean over the epoch")
            ax.set_title(f"{name} per epoch")
    test_loss.plot(epochs, history["val_loss"], "o-", color="C1", ms=3, lw=1.5)
    test_loss.set_title("Test loss per epoch")
    test_acc.plot(epochs, _percent(history["val_accuracy"]), "o-", color="C1", ms=3, lw=1.5)
    test_acc.set_title("Test accuracy per epoch")
    for ax in (train_loss, train_acc, test_loss, test_acc):
        ax.set_ylabel("accuracy (%)" if ax in (train_acc, test_acc) else loss_label or describe_loss())
        ax.grid(True, alpha=0.3)
    for ax in (test_loss, test_acc):
        ax.set_xlabel("epoch")
    train_loss.set_xlim(0, len(epochs) + 0.5)
    return figure


def plot_train_vs_test_accuracy(history):
    """Training and test accuracy per epoch on one axis.

    Args:
        history: `History.history` with per-epoch `accuracy` and
            `val_accuracy` (fractions).

    Returns:
        A `matplotlib.figure.Figure` with one axis.

    Raises:
        ValueError: If a key is missing.
    """
    _check_history(history, ("accuracy", "val_accuracy", "loss"))
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.subplots()
    epochs = _epochs(history)
    train, test = _percent(history["accuracy"]), _percent(history["val_accuracy"])
    ax.plot(epochs, train, "o-", color="C0", ms=3, label="training (augmented batches, epoch mean)")
    ax.plot(epochs, test, "o-", color="C1", ms=3, label="test")
    for values, color in ((train, "C0"), (test, "C1")):
        ax.annotate(
            f"{values[-1]:.2f} %",
            (epochs[-1], values[-1]),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            color=color,
        )
    ax.set_xlim(0, len(epochs) * 1.13 + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Training vs test accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return figure
