"""Image grids: misclassified test images, and their Grad-CAM heatmaps."""

import math

import numpy as np
from matplotlib.figure import Figure


def _check_same_length(**arrays):
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"Arguments must have the same length. Received lengths: {lengths}")
    if not next(iter(lengths.values())):
        raise ValueError("There are no images to draw.")


def plot_misclassified(images, labels, predicted, class_names, confidences=None, columns=5):
    """A grid of (misclassified) images titled with their true and predicted labels.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: True class of each image.
        predicted: Predicted class of each image.
        class_names: Name of each class.
        confidences: Optional predicted probability of each image's
            predicted class, shown after its name.
        columns: Images per row.

    Returns:
        A `matplotlib.figure.Figure` with one axis per image.

    Raises:
        ValueError: If the arguments differ in length or are empty.
    """
    _check_same_length(images=images, labels=labels, predicted=predicted)
    rows = math.ceil(len(images) / columns)
    figure = Figure(figsize=(2.1 * columns, 2.35 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= len(images):
            continue
        ax.imshow(images[i], interpolation="nearest")
        guess = class_names[predicted[i]]
        if confidences is not None:
            guess += f" ({100 * confidences[i]:.0f} %)"
        ax.set_title(f"true: {class_names[labels[i]]}\npredicted: {guess}", fontsize=9)
    figure.suptitle(f"Misclassified test images ({len(images)} shown)")
    return figure


def plot_gradcam(images, labels, predicted, class_names, predicted_heatmaps, actual_heatmaps, alpha=0.5):
    """Grad-CAM overlays w.r.t. the predicted and the actual class, per layer.

    One row per image: the image, then one overlay per layer for the
    predicted class, then one per layer for the actual class.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: True class of each image.
        predicted: Predicted class of each image.
        class_names: Name of each class.
        predicted_heatmaps: Dict `{layer name: (N, H, W) array in [0, 1]}`
            for the predicted classes (from `keras_s11.gradcam`).
        actual_heatmaps: The same for the actual classes.
        alpha: Opacity of the heatmap over the image.

    Returns:
        A `matplotlib.figure.Figure` with `N * (1 + 2 * layers)` axes.

    Raises:
        ValueError: If the arguments differ in length, are empty, or the two
            heatmap dicts name different layers.
    """
    _check_same_length(images=images, labels=labels, predicted=predicted)
    layers = list(predicted_heatmaps)
    if list(actual_heatmaps) != layers:
        raise ValueError(
            "Arguments `predicted_heatmaps` and `actual_heatmaps` must name the same layers. "
            f"Received: {layers} and {list(actual_heatmaps)}"
        )
    columns = 1 + 2 * len(layers)
    figure = Figure(figsize=(1.75 * columns, 1.95 * len(images) + 0.9), layout="constrained")
    axes = figure.subplots(len(images), columns, squeeze=False)
    heatmap_artist = None
    for row, ax_row in enumerate(axes):
        ax_row[0].imshow(images[row], interpolation="nearest")
        ax_row[0].set_title(f"true: {class_names[labels[row]]}\npredicted: {class_names[predicted[row]]}", fontsize=8.5)
        for column, (target, heatmaps) in enumerate(
            [("predicted", predicted_heatmaps[layer]) for layer in layers]
            + [("actual", actual_heatmaps[layer]) for layer in layers]
        ):
            ax = ax_row[1 + column]
            layer = layers[column % len(layers)]
            class_index = predicted[row] if target == "predicted" else labels[row]
            ax.imshow(images[row], interpolation="nearest")
            heatmap_artist = ax.imshow(
                np.asarray(heatmaps[row]), cmap="jet", alpha=alpha, vmin=0, vmax=1, interpolation="bilinear"
            )
            ax.set_title(f"{layer}\n{target}: {class_names[class_index]}", fontsize=8.5)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
    figure.colorbar(
        heatmap_artist,
        ax=axes,
        location="bottom",
        shrink=0.35,
        aspect=40,
        pad=0.01,
        label="Grad-CAM (scaled to [0, 1] per image and layer)",
    )
    figure.suptitle(
        "Grad-CAM of misclassified test images: w.r.t. the predicted class (left), the actual class (right)"
    )
    return figure
