"""Pad-crop, flip, cutout and normalisation of a batch in NumPy, vectorised over the batch.

The same operations, in the same order and on the same draws, as the
tf.data pipeline's Keras layers (`keras_s11.data.augment`): reflect padding,
a crop at per-image offsets, a per-image horizontal flip, an 8x8 cutout
clipped at the border and filled with the mean colour (0 once normalised).
"""

import numpy as np

from keras_s11.data.stats import CIFAR10_MEAN, CIFAR10_STD, normalize_array


def _reflect(index, size):
    """Indices into an axis of `size`, reflected at both ends without repeating the edge (as `np.pad` "reflect")."""
    index = np.abs(index)
    return np.where(index >= size, 2 * (size - 1) - index, index)


def augment_batch(images, rows, draws, padding=4, cutout=8, flip=True, mean=CIFAR10_MEAN, std=CIFAR10_STD):
    """Gathers, augments and normalises one batch.

    Crop and flip only choose which source pixel each output pixel reads, so
    they are one gather (reflect padding included) straight from the
    in-memory images; the normalisation and the cutout then touch the batch
    once each. Pass C-contiguous `images` (as `TrainBatches` keeps them), or
    every call copies them.

    Args:
        images: uint8 array `(N, H, W, 3)`, the whole training set.
        rows: Integer array `(B,)`, the images of the batch.
        draws: `keras_s11.data.draws.batch_draws(...)` for the batch.
        padding: Pixels of reflect padding before the crop (0: no crop).
        cutout: Side of the cutout square (0: no cutout).
        flip: Whether to apply the drawn flips.
        mean, std: Per-channel normalisation; the cutout fills `mean`,
            so it becomes 0.

    Returns:
        float32 array `(B, H, W, 3)`.
    """
    height, width = images.shape[1:3]
    ys = np.broadcast_to(np.arange(height), (len(rows), height))
    xs = np.broadcast_to(np.arange(width), (len(rows), width))
    if padding:
        ys = _reflect(ys + (draws["offsets"][:, :1] - padding), height)
        xs = _reflect(xs + (draws["offsets"][:, 1:] - padding), width)
    if flip:
        xs = np.where(draws["flip"][:, None], xs[:, ::-1], xs)
    # One gather of whole pixels (3 bytes each) by flat pixel index: several
    # times faster than indexing the 4-D array with three index arrays.
    rows = np.asarray(rows, np.intp)
    pixels = ((rows[:, None, None] * height + ys[:, :, None]) * width + xs[:, None, :]).astype(np.intp)
    batch = np.take(np.ascontiguousarray(images).reshape(-1, images.shape[-1]), pixels, axis=0)
    batch = normalize_array(batch, mean, std)
    if cutout:
        top = draws["centres"][:, 0] - cutout // 2
        left = draws["centres"][:, 1] - cutout // 2
        r, c = np.arange(height), np.arange(width)
        in_rows = (r >= top[:, None]) & (r < top[:, None] + cutout)
        in_cols = (c >= left[:, None]) & (c < left[:, None] + cutout)
        batch[in_rows[:, :, None] & in_cols[:, None, :]] = 0.0  # the mean colour, normalised
    return batch
