"""Patch-whitening initialisation of the PrepLayer convolution (airbench's).

The kernel's first filters are the eigenvectors of the second-moment matrix
of the training images' 3x3 patches, each scaled by one over the square root
of its eigenvalue and taken with both signs: the convolution then maps the
patches to decorrelated, unit-variance features (and their negatives, so
that the ReLU after it loses nothing). Computed in NumPy: it runs on any
backend.
"""

import keras
import numpy as np

from keras_s11.data.stats import normalize_array

# Added to each eigenvalue before scaling: keeps the near-zero directions of
# the patches from being blown up (airbench's value).
EPSILON = 5e-4
# Images whose patches are measured: the statistics of 5,000 are those of 50,000
# to a fraction of a percent, at a tenth of the cost.
MAX_IMAGES = 5000
_CHUNK = 500


def patches_of(images, size=3):
    """Every `size` x `size` patch of the images that lies inside them, flattened.

    Args:
        images: Array `(N, H, W, C)`.
        size: Side of the patches.

    Returns:
        Array `(N * (H - size + 1) * (W - size + 1), size * size * C)`, each row
        in the order of a Keras `Conv2D` kernel's `(row, column, channel)`.
    """
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(images), (size, size), axis=(1, 2))
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, size * size * images.shape[-1])


def patch_second_moment(images, size=3, max_images=MAX_IMAGES):
    """The uncentred second-moment matrix `E[p p^T]` of the normalised images' patches.

    Args:
        images: uint8 array `(N, H, W, 3)`; the first `max_images` are used.
        size: Side of the patches.
        max_images: Images to measure.

    Returns:
        float64 array `(size * size * 3, size * size * 3)`.
    """
    images = np.asarray(images)[:max_images]
    dims = size * size * images.shape[-1]
    moment, count = np.zeros((dims, dims)), 0
    for start in range(0, len(images), _CHUNK):
        patches = patches_of(normalize_array(images[start : start + _CHUNK]), size).astype(np.float64)
        moment += patches.T @ patches
        count += len(patches)
    return moment / count


def whitening_kernel(moment, kernel, epsilon=EPSILON):
    """A convolution kernel whose first filters whiten patches of second moment `moment`.

    Args:
        moment: `patch_second_moment(...)`, shape `(D, D)` with
            `D = kh * kw * in_channels`.
        kernel: The kernel to start from, `(kh, kw, in_channels, filters)`;
            its filters past the whitening ones are kept.
        epsilon: Added to each eigenvalue before scaling, >= 0.

    Returns:
        float32 array like `kernel`: filter `i < k` is eigenvector `i`
        (largest eigenvalue first) over `sqrt(eigenvalue + epsilon)`, filter
        `k + i` its negative, with `k = min(D, filters // 2)`.
    """
    kernel = np.array(kernel, dtype=np.float32)
    *window, in_channels, filters = kernel.shape
    dims = window[0] * window[1] * in_channels
    if moment.shape != (dims, dims):
        raise ValueError(f"Argument `moment` must be {dims}x{dims} for a kernel of shape {kernel.shape}.")
    if epsilon < 0:
        raise ValueError(f"Argument `epsilon` must be >= 0. Received: epsilon={epsilon}")
    eigenvalues, eigenvectors = np.linalg.eigh(moment)  # ascending
    count = min(dims, filters // 2)
    order = np.argsort(eigenvalues)[::-1][:count]
    scaled = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + epsilon)
    filters_of = np.concatenate([scaled, -scaled], axis=1).reshape(*window, in_channels, 2 * count)
    kernel[..., : 2 * count] = filters_of
    return kernel


def apply_patch_whitening(model, images, layer_name="prep_conv", epsilon=EPSILON, max_images=MAX_IMAGES):
    """Sets the PrepLayer convolution's kernel to whiten the training images' patches.

    The kernel also leaves the weight decay (as airbench's, which is frozen):
    its scale is the whitening's, up to `1 / sqrt(epsilon)` along the
    patches' weakest directions, so an L2 penalty on it would be most of the
    loss (7.5 of a 10.0 start at width 64 with the default decay; 2.5
    without it), and the LR range test found LRMAX at its last LR on that
    loss. Call it before the model is trained
    (the train step collects the penalties when it is traced).

    Args:
        model: A model from `keras_s11.model.build_model`.
        images: uint8 training images `(N, H, W, 3)`.
        layer_name: The convolution to initialise.
        epsilon, max_images: As in `whitening_kernel` and `patch_second_moment`.

    Returns:
        The number of whitening filters set (both signs).

    Example:

    >>> model = build_model()
    >>> apply_patch_whitening(model, x_train)
    54
    """
    layer = model.get_layer(layer_name)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    size = kernel.shape[0]
    whitened = whitening_kernel(patch_second_moment(images, size, max_images), kernel, epsilon)
    layer.kernel.assign(whitened)
    layer.kernel.regularizer = None
    layer.kernel_regularizer = None  # the saved layer config agrees
    return 2 * min(size * size * kernel.shape[2], kernel.shape[-1] // 2)
