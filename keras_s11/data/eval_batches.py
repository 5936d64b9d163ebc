"""Evaluation and inference input without TensorFlow: a `keras.utils.PyDataset` of normalised batches."""

import keras

from keras_s11.data.checks import check_arrays, check_batch_size, check_images
from keras_s11.data.stats import normalize_array


class EvalBatches(keras.utils.PyDataset):
    """Normalised batches of images (and labels), in order, the last one possibly smaller.

    The TensorFlow-free counterpart of `make_eval_dataset` and
    `make_predict_dataset`: the same float32 values.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`, or `None` for images only (`predict`).
        batch_size: Batch size.

    Example:

    >>> model.evaluate(EvalBatches(x_test, y_test))
    >>> probabilities = model.predict(EvalBatches(x_test))
    """

    def __init__(self, images, labels=None, batch_size=512):
        super().__init__()
        if labels is None:
            images = check_images(images)
        else:
            images, labels = check_arrays(images, labels)
        check_batch_size(batch_size)
        self.images, self.labels, self.batch_size = images, labels, int(batch_size)

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index must be in [0, {len(self)}). Received: index={index}")
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        images = normalize_array(self.images[part])
        return images if self.labels is None else (images, self.labels[part])


def make_eval_batches(images, labels=None, batch_size=512):
    """Builds the TensorFlow-free evaluation (or, without labels, inference) input.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`, or `None` for images only.
        batch_size: Batch size.

    Returns:
        An `EvalBatches` of float32 `(images, int32 labels)` batches, or of
        image batches when `labels` is `None`.

    Raises:
        ValueError: For arrays of the wrong shape or a bad `batch_size`.
    """
    return EvalBatches(images, labels, batch_size)
