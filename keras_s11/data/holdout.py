"""A validation slice held out from the training images."""

import numpy as np


def holdout_split(images, labels, size, seed=0):
    """Splits off a stratified, seeded validation slice of `size` examples.

    Each class gives `size` in proportion to its share of `labels` (the
    remainders go to the largest fractional shares), drawn at random with
    `seed`; the same arguments always give the same split. Settings are
    chosen on this slice, never on the test split.

    Args:
        images: Array of images, first axis the examples.
        labels: Integer labels, one per image.
        size: Number of examples to hold out, in [1, len(labels) - 1].
        seed: Seed of the draw.

    Returns:
        `((train_images, train_labels), (holdout_images, holdout_labels))`,
        each part in the original order.

    Raises:
        ValueError: If `size` is out of range or the arrays differ in length.

    Example:

    >>> (x_train, y_train), (x_val, y_val) = holdout_split(x, y, 5000)
    """
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(
            f"Arguments `images` and `labels` must have the same length. Received: {len(images)} and {len(labels)}"
        )
    if not 0 < size < len(labels):
        raise ValueError(f"Argument `size` must be in [1, {len(labels) - 1}]. Received: size={size}")
    generator = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    shares = counts * size / len(labels)
    quotas = np.floor(shares).astype(int)
    leftover = size - quotas.sum()
    quotas[np.argsort(quotas - shares, kind="stable")[:leftover]] += 1
    held = np.zeros(len(labels), dtype=bool)
    for label, quota in zip(classes, quotas, strict=True):
        members = np.flatnonzero(labels == label)
        held[generator.choice(members, size=quota, replace=False)] = True
    return (images[~held], labels[~held]), (images[held], labels[held])
