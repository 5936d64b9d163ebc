"""Predictions and accuracy on a test set."""

import numpy as np

from keras_s11.data.pipeline import make_predict_dataset


def predict_probabilities(model, images, batch_size=512, flip_tta=False):
    """Class probabilities for uint8 images, optionally flip-averaged.

    Args:
        model: A model mapping normalised images to probabilities.
        images: uint8 array `(N, H, W, 3)`.
        batch_size: Batch size.
        flip_tta: Average with the predictions on left-right flipped images.

    Returns:
        float32 array `(N, num_classes)`.
    """
    probabilities = model.predict(make_predict_dataset(images, batch_size), verbose=0)
    if flip_tta:
        flipped = make_predict_dataset(np.asarray(images)[:, :, ::-1], batch_size)
        probabilities = (probabilities + model.predict(flipped, verbose=0)) / 2
    return probabilities.astype(np.float32)


def accuracy(probabilities, labels):
    """Fraction of rows whose arg-max equals the label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))
