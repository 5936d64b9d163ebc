"""Argument checks shared by the input pipelines (no TensorFlow)."""

import numpy as np

# Steps per epoch and epochs stay below this many (uint32 words of the draws).
POSITION_LIMIT = 2**32


def check_images(images):
    """`images` as an array, which must have shape `(N, H, W, 3)`."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Argument `images` must have shape (N, H, W, 3). Received: shape={images.shape}")
    return images


def check_arrays(images, labels):
    """`(images, int32 labels)`, checked to be `(N, H, W, 3)` and `(N,)`."""
    images, labels = check_images(images), np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(
            "Argument `labels` must have shape (N,) matching `images`. "
            f"Received: labels.shape={labels.shape}, images.shape={images.shape}"
        )
    return images, labels.astype(np.int32)


def check_batch_size(batch_size):
    """Raises unless `batch_size` is a positive integer."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be a positive integer. Received: batch_size={batch_size!r}")


def check_augmentation(images, padding, cutout):
    """Raises unless `padding` fits the reflect padding of `images` and `cutout` is >= 0."""
    height, width = images.shape[1:3]
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or not 0 <= padding < min(height, width):
        raise ValueError(
            f"Argument `padding` must be an integer in [0, {min(height, width)}) for {height}x{width} images "
            f"(reflect padding). Received: padding={padding!r}"
        )
    if isinstance(cutout, bool) or not isinstance(cutout, (int, np.integer)) or cutout < 0:
        raise ValueError(f"Argument `cutout` must be an integer >= 0. Received: cutout={cutout!r}")
    if max(height, width) > 2**16:
        raise ValueError(
            f"Argument `images` must be at most 65536 pixels high and wide. Received: shape={images.shape}"
        )


FLIPS = ("random", "alternating")


def check_flip(flip):
    """The flip mode of `flip`: `"random"` for `True`, `None` for `False`, or `"alternating"`.

    Raises:
        ValueError: Unless `flip` is a bool or one of `FLIPS`.
    """
    if isinstance(flip, (bool, np.bool_)):
        return "random" if flip else None
    if flip not in FLIPS:
        raise ValueError(f"Argument `flip` must be True, False or one of {FLIPS}. Received: flip={flip!r}")
    return flip


def train_steps(images, batch_size, initial_epoch):
    """Full batches per epoch, after checking them and `initial_epoch`.

    Raises:
        ValueError: If no full batch fits, or `initial_epoch` is not an
            integer >= 0.
    """
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
        raise ValueError(f"Argument `initial_epoch` must be an integer >= 0. Received: initial_epoch={initial_epoch!r}")
    steps = len(images) // batch_size
    if steps < 1:
        raise ValueError(
            f"Argument `batch_size` ({batch_size}) exceeds the number of images ({len(images)}): "
            "no full batch would be produced (the last incomplete batch of each epoch is dropped)"
        )
    return int(steps)
