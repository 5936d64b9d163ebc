"""Per-channel statistics of the CIFAR-10 training images, and normalisation with them in NumPy."""

import numpy as np

# Per-channel mean and standard deviation of the CIFAR-10 training images, 0..255.
CIFAR10_MEAN = (125.307, 122.950, 113.865)
CIFAR10_STD = (62.993, 62.089, 66.705)


def normalize_array(images, mean=CIFAR10_MEAN, std=CIFAR10_STD):
    """Maps uint8 (or 0..255) images to float32 `(x - mean) / std`, in NumPy.

    The same float32 operations as `keras_s11.data.pipeline.normalize`
    (cast, subtract, divide), so both give the same bits.

    Args:
        images: Array `(..., 3)` of 0..255 pixel values.
        mean: Per-channel mean.
        std: Per-channel standard deviation.

    Returns:
        float32 array of the same shape.
    """
    images = np.asarray(images)
    out = np.empty(images.shape, np.float32)
    np.subtract(images, np.asarray(mean, np.float32), out=out, dtype=np.float32)
    return np.divide(out, np.asarray(std, np.float32), out=out)
