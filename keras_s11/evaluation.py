"""Predictions and accuracy on a test set."""

import numpy as np

from keras_s11.data.inputs import make_eval_input


def predict_probabilities(model, images, batch_size=512):
    """Class probabilities for uint8 images, on any Keras backend.

    The images go through `make_predict_dataset` (tf.data) on TensorFlow
    and through `keras_s11.data.EvalBatches` elsewhere: the same values.

    Args:
        model: A model mapping normalised images to probabilities.
        images: uint8 array `(N, H, W, 3)`.
        batch_size: Batch size.

    Returns:
        float32 array `(N, num_classes)`.
    """
    return np.asarray(model.predict(make_eval_input(images, None, batch_size), verbose=0), dtype=np.float32)


def flip_averaged(model, images, probabilities, batch_size=512):
    """Flip test-time augmentation: the mean of the given predictions and those on mirrored images.

    Args:
        model: The model that gave `probabilities`.
        images: uint8 array `(N, H, W, 3)`.
        probabilities: `predict_probabilities(model, images)`, computed once
            by the caller (and reusable for other metrics).
        batch_size: Batch size.

    Returns:
        float32 array `(N, num_classes)`.
    """
    flipped = predict_probabilities(model, np.asarray(images)[:, :, ::-1], batch_size)
    return (probabilities + flipped) / 2


def translate(images, dy, dx):
    """Images shifted by `(dy, dx)` pixels, the border filled by reflection (as the training crop pads).

    Args:
        images: Array `(N, H, W, C)`.
        dy, dx: Shift down and right in pixels (negative: up and left).

    Returns:
        An array of the same shape and dtype.
    """
    images = np.asarray(images)
    pad_y, pad_x = abs(dy), abs(dx)
    padded = np.pad(images, ((0, 0), (pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect")
    height, width = images.shape[1:3]
    top, left = pad_y - dy, pad_x - dx
    return padded[:, top : top + height, left : left + width]


def multicrop_averaged(model, images, flip_probabilities, batch_size=512, shift=1):
    """Flip-and-translate test-time augmentation (airbench's): six views of each image.

    Half the flip average of the images as they are, half the mean of the
    flip averages of the images shifted `shift` pixels up-left and
    down-right (reflect padding).

    Args:
        model: The model that gave `flip_probabilities`.
        images: uint8 array `(N, H, W, 3)`.
        flip_probabilities: `flip_averaged(model, images, ...)`, computed
            once by the caller.
        batch_size: Batch size.
        shift: Pixels of each translation, an integer > 0.

    Returns:
        float32 array `(N, num_classes)`.
    """
    if not isinstance(shift, int) or isinstance(shift, bool) or shift < 1:
        raise ValueError(f"Argument `shift` must be an integer > 0. Received: shift={shift!r}")
    shifted = []
    for offset in (-shift, shift):
        moved = translate(images, offset, offset)
        shifted.append(flip_averaged(model, moved, predict_probabilities(model, moved, batch_size), batch_size))
    return (flip_probabilities + (shifted[0] + shifted[1]) / 2) / 2


def accuracy(probabilities, labels):
    """Fraction of rows whose arg-max equals the label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))


def confusion_matrix(labels, predicted, num_classes):
    """Counts of (true class, predicted class) pairs.

    Args:
        labels: True classes, integers in `[0, num_classes)`.
        predicted: Predicted classes, same length.
        num_classes: Number of classes.

    Returns:
        int64 array `(num_classes, num_classes)`: entry `[i, j]` counts the
        images of class `i` predicted as class `j`.

    Raises:
        ValueError: If the lengths differ or a class is out of range.
    """
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape or labels.ndim != 1:
        raise ValueError(
            "Arguments `labels` and `predicted` must be 1-D and of equal length. "
            f"Received shapes: {labels.shape} and {predicted.shape}"
        )
    for name, values in (("labels", labels), ("predicted", predicted)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"Argument `{name}` must lie in [0, {num_classes}). "
                f"Received values from {values.min()} to {values.max()}"
            )
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def classwise_accuracy(confusion):
    """Accuracy of each class from a confusion matrix (NaN for an absent class).

    Args:
        confusion: Array `(C, C)` from `confusion_matrix`.

    Returns:
        float64 array `(C,)`: correct / total for each true class.
    """
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)


def format_classwise_accuracy(accuracies, class_names):
    """The class-wise table of the original assignment, one line per class.

    Example: `Accuracy of airplane   : 92 %` (rounded to whole percent).

    Args:
        accuracies: Accuracy of each class, fractions.
        class_names: Name of each class.

    Returns:
        The lines joined with newlines.
    """
    width = max(len(name) for name in class_names)
    return "\n".join(
        f"Accuracy of {name:<{width}} : {'n/a' if np.isnan(acc) else f'{100 * acc:2.0f} %'}"
        for name, acc in zip(class_names, accuracies)
    )


def spread_sample(indices, count):
    """Up to `count` entries of `indices`, evenly spaced over it, in order.

    Used to pick misclassified images from every part of a test set that is
    ordered by class, rather than the first few of one class.
    """
    indices = np.asarray(indices)
    if count >= len(indices):
        return indices
    return indices[np.round(np.linspace(0, len(indices) - 1, count)).astype(int)]
