"""tf.data input pipelines: in-memory data, batched augmentation, normalisation."""

import numpy as np
import tensorflow as tf

from keras_s11.data.augment import Cutout, RandomHorizontalFlip, RandomPadCrop

# Per-channel mean and standard deviation of the CIFAR-10 training images, 0..255.
CIFAR10_MEAN = (125.307, 122.950, 113.865)
CIFAR10_STD = (62.993, 62.089, 66.705)


def normalize(images, mean=CIFAR10_MEAN, std=CIFAR10_STD):
    """Maps uint8 (or 0..255 float) images to float32 `(x - mean) / std`."""
    images = tf.cast(images, tf.float32)
    return (images - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def _check_images(images):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Argument `images` must have shape (N, H, W, 3). Received: shape={images.shape}")
    return images


def _check_arrays(images, labels):
    images, labels = _check_images(images), np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(
            "Argument `labels` must have shape (N,) matching `images`. "
            f"Received: labels.shape={labels.shape}, images.shape={images.shape}"
        )
    return images, labels.astype(np.int32)


def _check_batch_size(batch_size):
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be a positive integer. Received: batch_size={batch_size!r}")


def make_augmenter(padding=4, cutout=8, flip=True, seed=None):
    """Returns a function that augments a uint8/float batch of NHWC images.

    Pad-and-crop, horizontal flip and cutout, in that order, each drawn per
    image; the cutout square is filled with the data set's mean colour, which
    normalises to zero. `seed` makes the sequence of batches reproducible.
    """
    if seed is None:
        crop_seed = flip_seed = cutout_seed = None
    else:  # one independent stream per layer
        crop_seed, flip_seed, cutout_seed = (int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, 3))
    geometric = []  # exact on uint8 pixels: moved before the cast, 4x less memory
    if padding:
        geometric.append(RandomPadCrop(padding, seed=crop_seed))
    if flip:
        geometric.append(RandomHorizontalFlip(seed=flip_seed))
    erase = Cutout(cutout, fill_value=CIFAR10_MEAN, seed=cutout_seed) if cutout else None

    def augment(images):
        for step in geometric:
            images = step(images)
        images = tf.cast(images, tf.float32)
        return erase(images) if erase is not None else images

    return augment


def make_train_dataset(
    images,
    labels,
    batch_size=512,
    padding=4,
    cutout=8,
    flip=True,
    seed=None,
    drop_remainder=True,
    parallel=False,
):
    """Builds the training pipeline.

    shuffle (every epoch) > batch > pad-crop, flip, cutout (per image,
    vectorised over the batch) > normalise > prefetch.

    Args:
        images: uint8 array `(N, H, W, 3)`, kept in memory.
        labels: Integer array `(N,)`.
        batch_size: Global batch size.
        padding: Pixels of reflect padding before the random crop (0: no crop).
        cutout: Side of the cutout square (0: no cutout).
        flip: Whether to flip images horizontally at random.
        seed: Integer seed: the same seed gives the same batches.
        drop_remainder: Drop the last incomplete batch (keeps the step count
            and BN batch statistics constant).
        parallel: Augment several batches at once, in any order (for
            accelerators, where one CPU thread cannot keep up). The random
            draws then depend on thread timing, so `seed` fixes the order of
            the images but no longer the augmentation.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)` batches.
    """
    images, labels = _check_arrays(images, labels)
    _check_batch_size(batch_size)
    if drop_remainder and len(images) < batch_size:
        raise ValueError(
            f"Argument `batch_size` ({batch_size}) exceeds the number of images "
            f"({len(images)}) with drop_remainder=True: no batch would be produced"
        )
    augment = make_augmenter(padding, cutout, flip, seed)
    # The arrays stay in memory as two tensors; the pipeline shuffles and
    # batches indices and gathers each batch at once (batching 50,000 single
    # examples costs more than the augmentation).
    images, labels = tf.constant(images), tf.constant(labels)
    dataset = tf.data.Dataset.range(len(images))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    parallel_options = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=False) if parallel else {}
    dataset = dataset.map(
        lambda index: (normalize(augment(tf.gather(images, index))), tf.gather(labels, index)), **parallel_options
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(images, labels, batch_size=512):
    """Builds the evaluation pipeline: batch > normalise > prefetch, in order.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`.
        batch_size: Batch size.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)` batches.
    """
    images, labels = _check_arrays(images, labels)
    _check_batch_size(batch_size)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return dataset.map(lambda x, y: (normalize(x), y)).prefetch(tf.data.AUTOTUNE)


def make_predict_dataset(images, batch_size=512):
    """Builds the inference pipeline: batch > normalise > prefetch, images only.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        batch_size: Batch size.

    Returns:
        A `tf.data.Dataset` of float32 image batches, in order.
    """
    images = _check_images(images)
    _check_batch_size(batch_size)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    return dataset.map(normalize).prefetch(tf.data.AUTOTUNE)
