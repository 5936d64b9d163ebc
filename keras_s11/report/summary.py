"""Metrics of a model on a test set, from predictions computed once."""

import numpy as np

from keras_s11.evaluation import classwise_accuracy, confusion_matrix


def cross_entropy(probabilities, labels, epsilon=1e-7):
    """Mean cross-entropy of the true classes (no label smoothing)."""
    picked = np.asarray(probabilities, dtype=np.float64)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.clip(picked, epsilon, 1.0))))


def model_loss(model, probabilities, labels):
    """The loss Keras's `evaluate` reports, computed from given probabilities.

    The compiled loss (label smoothing included) plus the weight penalties
    of the model's regularisers, as in the `val_loss` of training.

    Returns:
        A float, or `None` if the model was not compiled with a loss.
    """
    loss_fn = getattr(model, "loss", None)
    if not callable(loss_fn):
        return None
    loss = float(loss_fn(np.asarray(labels), np.asarray(probabilities, dtype=np.float32)))
    return loss + float(sum(float(penalty) for penalty in model.losses))


def summarize(probabilities, labels, class_names, loss=None):
    """Overall and class-wise accuracy, the confusion matrix and the mistakes.

    Args:
        probabilities: `(N, C)` predicted probabilities.
        labels: `(N,)` true classes.
        class_names: Name of each of the `C` classes.
        loss: The model's loss on these images, if known.

    Returns:
        A JSON-ready dict: `num_images`, `accuracy`, `loss`,
        `cross_entropy`, `num_misclassified`, `class_names`,
        `classwise_accuracy` (by class name), `confusion_matrix` (rows: true
        class, columns: predicted class).

    Raises:
        ValueError: If the shapes do not match `class_names`.
    """
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape != (len(labels), len(class_names)):
        raise ValueError(
            f"Argument `probabilities` must have shape ({len(labels)}, {len(class_names)}). "
            f"Received: shape={probabilities.shape}"
        )
    predicted = np.argmax(probabilities, axis=1)
    confusion = confusion_matrix(labels, predicted, len(class_names))
    per_class = classwise_accuracy(confusion)
    return {
        "num_images": int(len(labels)),
        "accuracy": float(np.mean(predicted == labels)),
        "loss": loss,
        "loss_definition": (
            "the model's compiled loss (with its label smoothing) plus the penalties of its regularisers, "
            "as in val_loss"
        ),
        "cross_entropy": cross_entropy(probabilities, labels),
        "num_misclassified": int(np.sum(predicted != labels)),
        "class_names": list(class_names),
        "classwise_accuracy": {
            name: (None if np.isnan(acc) else float(acc)) for name, acc in zip(class_names, per_class)
        },
        "confusion_matrix": confusion.tolist(),
    }
