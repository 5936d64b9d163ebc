"""Per-class figures: class-wise accuracy and the confusion matrix."""

import numpy as np
from matplotlib.figure import Figure


def plot_classwise_accuracy(accuracies, class_names, overall=None):
    """Horizontal bars: the accuracy of each class, in percent.

    Args:
        accuracies: Accuracy of each class, fractions in [0, 1].
        class_names: Name of each class.
        overall: Optional overall accuracy, drawn as a reference line.

    Returns:
        A `matplotlib.figure.Figure` with one axis.

    Raises:
        ValueError: If `accuracies` and `class_names` differ in length.
    """
    if len(accuracies) != len(class_names):
        raise ValueError(
            f"Arguments `accuracies` and `class_names` must have the same length. "
            f"Received: {len(accuracies)} and {len(class_names)}"
        )
    percent = 100 * np.asarray(accuracies, dtype=np.float64)
    figure = Figure(figsize=(7, 0.42 * len(class_names) + 1.3), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(class_names))
    bars = ax.barh(positions, percent, color="C0", zorder=2)
    labels = ax.bar_label(bars, labels=[f"{p:.1f} %" for p in percent], padding=3, fontsize=9, zorder=4)
    for label in labels:
        label.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_yticks(positions, labels=class_names)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("accuracy (%)")
    title = "Class-wise test accuracy"
    if overall is not None:
        ax.axvline(100 * overall, color="C3", ls="--", lw=1.2, zorder=3)
        title += f" (dashed line: overall, {100 * overall:.2f} %)"
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return figure


def plot_confusion_matrix(confusion, class_names):
    """The confusion matrix as an annotated heatmap (rows: true, columns: predicted).

    Args:
        confusion: Integer array `(C, C)`; `confusion[i, j]` counts images of
            class `i` predicted as class `j`.
        class_names: Name of each class.

    Returns:
        A `matplotlib.figure.Figure` with the matrix axis and a colour bar.

    Raises:
        ValueError: If `confusion` is not square or does not match `class_names`.
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape != (len(class_names), len(class_names)):
        raise ValueError(
            f"Argument `confusion` must have shape ({len(class_names)}, {len(class_names)}). "
            f"Received: shape={confusion.shape}"
        )
    size = 0.62 * len(class_names) + 2.5
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(confusion, cmap="Blues")
    threshold = confusion.max() / 2
    for (i, j), count in np.ndenumerate(confusion):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color="white" if count > threshold else "black")
    positions = np.arange(len(class_names))
    ax.set_xticks(positions, labels=class_names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(positions, labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix ({confusion.sum()} test images)")
    figure.colorbar(image, ax=ax, shrink=0.8, label="images")
    return figure
