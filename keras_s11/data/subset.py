"""Seeded random subsets of a data set, for quick runs and notebooks."""

import numbers

import numpy as np


def subset_indices(count, limit, seed=0, name="limit"):
    """Sorted indices of a seeded random subset of `limit` of `count` examples.

    The same `(count, limit, seed)` always give the same indices; `limit`
    `None` or at least `count` keeps every index.

    Args:
        count: Number of examples.
        limit: Number to keep, a positive integer, or `None` for all.
        seed: Seed of the draw.
        name: Name of the argument `limit` in error messages.

    Returns:
        An int64 array of indices in increasing order.

    Raises:
        ValueError: If `limit` is not a positive integer or `None`.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1):
        raise ValueError(f"Argument `{name}` must be a positive integer or None. Received: {name}={limit!r}")
    if limit is None or limit >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).permutation(count)[:limit])


def random_subset(images, labels, limit, seed=0, name="limit"):
    """A seeded random subset of `limit` examples, in their original order.

    Args:
        images: Array of images, first axis the examples.
        labels: Labels, one per image.
        limit: Number of examples to keep, or `None` for all of them.
        seed: Seed of the draw.
        name: Name of the argument `limit` in error messages.

    Returns:
        `(images, labels)`, the same arrays when all are kept.

    Raises:
        ValueError: If `limit` is not a positive integer or `None`.

    Example:

    >>> x_small, y_small = random_subset(x_train, y_train, 5000, seed=0)
    """
    keep = subset_indices(len(images), limit, seed, name)
    if len(keep) == len(images):
        return images, labels
    return images[keep], labels[keep]
