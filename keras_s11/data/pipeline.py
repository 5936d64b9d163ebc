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


# Steps per epoch stay below this many, so (epoch, step) positions never collide.
_STEPS_PER_EPOCH_LIMIT = 2**20


def _draws_at(layer, images, seed):
    """The random inputs of an augmentation layer, drawn statelessly from `seed`."""
    shape = tf.shape(images)
    uniform = tf.random.stateless_uniform((shape[0], 2), seed=seed)
    if isinstance(layer, RandomPadCrop):
        return {"offsets": tf.cast(tf.floor(uniform * (2 * layer.padding + 1)), tf.int32)}
    if isinstance(layer, RandomHorizontalFlip):
        return {"flip": uniform[:, 0] < layer.rate}
    limits = tf.cast(tf.stack([shape[1], shape[2]]), tf.float32)
    return {"centres": tf.cast(tf.floor(uniform * limits), tf.int32)}


def make_augmenter(padding=4, cutout=8, flip=True, seed=None):
    """Returns a function that augments a uint8/float batch of NHWC images.

    Pad-and-crop, horizontal flip and cutout, in that order, each drawn per
    image; the cutout square is filled with the data set's mean colour, which
    normalises to zero. `seed` makes the sequence of batches reproducible.

    The function takes an optional `position=(epoch, step)` (integer
    tensors; needs a `seed`): the draws are then a function of `seed` and
    that position alone, not of how many batches came before, and no state
    is touched, so a resumed run sees the same batches.
    """
    if seed is None:
        crop_seed = flip_seed = cutout_seed = None
    else:  # one independent stream per layer
        crop_seed, flip_seed, cutout_seed = (int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, 3))
    steps = []
    if padding:
        steps.append(RandomPadCrop(padding, seed=crop_seed))
    if flip:
        steps.append(RandomHorizontalFlip(seed=flip_seed))
    if cutout:
        steps.append(Cutout(cutout, fill_value=CIFAR10_MEAN, seed=cutout_seed))

    def augment(images, position=None):
        if position is not None:
            epoch, batch = (tf.cast(p, tf.int64) for p in position)
            stream = epoch * _STEPS_PER_EPOCH_LIMIT + batch
        for layer in steps:
            # Crop and flip move uint8 pixels (exact, a quarter of the memory);
            # the cutout writes the fractional mean colour, so it needs floats.
            if isinstance(layer, Cutout):
                images = tf.cast(images, tf.float32)
            if position is None:
                images = layer(images)
            else:
                draw_seed = tf.stack([tf.constant(layer.seed, tf.int64), stream])
                images = layer(images, **_draws_at(layer, images, draw_seed))
        return tf.cast(images, tf.float32)

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


def make_resumable_train_dataset(
    images,
    labels,
    batch_size=512,
    seed=0,
    initial_epoch=0,
    padding=4,
    cutout=8,
    flip=True,
):
    """Builds an endless training pipeline whose every epoch depends only on (seed, epoch).

    The same steps as `make_train_dataset` (shuffle > batch > pad-crop, flip,
    cutout > normalise > prefetch; batches augmented in parallel), but the shuffle order of epoch `e` and
    the augmentation of its batches are functions of `(seed, e)` alone. A
    run resumed at epoch `e` with `initial_epoch=e` therefore sees exactly the
    batches the uninterrupted run saw, and a range test run beforehand does
    not shift them. The last incomplete batch of each epoch is dropped.

    Pass `steps_per_epoch=len(images) // batch_size` to `fit`: the dataset
    does not end.

    Args:
        images: uint8 array `(N, H, W, 3)`, kept in memory.
        labels: Integer array `(N,)`.
        batch_size: Global batch size.
        seed: Integer seed.
        initial_epoch: Epoch of the first batches produced.
        padding, cutout, flip: As in `make_train_dataset`.

    Returns:
        An endless `tf.data.Dataset` of `(float32 images, int32 labels)` batches.
    """
    images, labels = _check_arrays(images, labels)
    _check_batch_size(batch_size)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"Argument `seed` must be an integer >= 0. Received: seed={seed!r}")
    if not isinstance(initial_epoch, int) or initial_epoch < 0:
        raise ValueError(f"Argument `initial_epoch` must be an integer >= 0. Received: initial_epoch={initial_epoch!r}")
    steps = len(images) // batch_size
    if not 1 <= steps < _STEPS_PER_EPOCH_LIMIT:
        raise ValueError(
            f"Arguments give {steps} batches per epoch ({len(images)} images, batch_size={batch_size}); "
            f"expected 1 to {_STEPS_PER_EPOCH_LIMIT - 1}"
        )
    augment = make_augmenter(padding, cutout, flip, seed)
    images, labels = tf.constant(images), tf.constant(labels)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(len(labels), dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        batches = tf.reshape(order[: steps * batch_size], (steps, batch_size))
        return tf.data.Dataset.from_tensor_slices(batches).enumerate().map(lambda step, rows: (epoch, step, rows))

    def load(epoch, step, rows):
        x = augment(tf.gather(images, rows), position=(epoch, step))
        return normalize(x), tf.gather(labels, rows)

    dataset = tf.data.Dataset.counter(initial_epoch, dtype=tf.int64).flat_map(epoch_batches)
    # The draws depend on (seed, epoch, step) only, so batches can be augmented
    # in parallel and still come out in order and identical.
    return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


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
