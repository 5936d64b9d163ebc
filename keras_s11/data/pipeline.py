"""tf.data input pipelines: in-memory data, batched augmentation, normalisation."""

import tensorflow as tf

from keras_s11.data import draws
from keras_s11.data.augment import Cutout, RandomHorizontalFlip, RandomPadCrop
from keras_s11.data.checks import (
    check_arrays,
    check_augmentation,
    check_batch_size,
    check_flip,
    check_images,
    train_steps,
)
from keras_s11.data.stats import CIFAR10_MEAN, CIFAR10_STD

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "make_augmenter",
    "make_eval_dataset",
    "make_predict_dataset",
    "make_resumable_train_dataset",
    "make_train_dataset",
    "normalize",
]

_TF_OPS = draws.Uint32Ops(tf.bitwise.bitwise_xor, tf.bitwise.right_shift, tf.math.multiply)


def normalize(images, mean=CIFAR10_MEAN, std=CIFAR10_STD):
    """Maps uint8 (or 0..255 float) images to float32 `(x - mean) / std`."""
    images = tf.cast(images, tf.float32)
    return (images - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def _words(seed, stream, *position):
    """The uint32 words that start the hash of a draw, as shape-(1,) tensors."""
    low, high = draws.seed_words(seed)
    fixed = [tf.constant([w], tf.uint32) for w in (low, high, stream)]
    return fixed + [tf.reshape(tf.cast(p, tf.uint32), (1,)) for p in position]


def _epoch_order(seed, epoch, num_images):
    """`keras_s11.data.draws.epoch_order` in TensorFlow ops (the same permutation)."""
    keys = draws.hash_words([*_words(seed, draws.ORDER, epoch), tf.cast(tf.range(num_images), tf.uint32)], _TF_OPS)
    return tf.argsort(keys, stable=True)


def _batch_draws(seed, epoch, step, batch_size, height, width, padding, flip_rate=0.5):
    """`keras_s11.data.draws.batch_draws` in TensorFlow ops (the same numbers)."""
    rows = tf.cast(tf.range(batch_size), tf.uint32)

    def draw(stream):
        return draws.hash_words([*_words(seed, stream, epoch, step), rows], _TF_OPS)

    def below(stream, n):
        return tf.cast(draws.below(draw(stream), tf.cast(n, tf.uint32), _TF_OPS), tf.int32)

    flip = tf.bitwise.right_shift(draw(draws.FLIP), 32 - draws.DRAW_BITS)
    return {
        "offsets": tf.stack([below(draws.CROP_Y, 2 * padding + 1), below(draws.CROP_X, 2 * padding + 1)], axis=1),
        "flip": flip < draws.flip_threshold(flip_rate),
        "centres": tf.stack([below(draws.CUTOUT_Y, height), below(draws.CUTOUT_X, width)], axis=1),
    }


def _alternating_flips(seed, epoch, indices):
    """`keras_s11.data.draws.alternating_flips` in TensorFlow ops (the same flips)."""
    hashes = draws.hash_words([*_words(seed, draws.FIRST_FLIP), tf.cast(indices, tf.uint32)], _TF_OPS)
    first = tf.bitwise.right_shift(hashes, 32 - draws.DRAW_BITS) < draws.flip_threshold(0.5)
    return tf.math.logical_xor(first, tf.equal(tf.math.floormod(tf.cast(epoch, tf.int64), 2), 1))


def make_augmenter(padding=4, cutout=8, flip=True, seed=0):
    """Returns a function that augments a uint8/float batch of NHWC images at a position.

    Pad-and-crop, horizontal flip and cutout, in that order, each drawn per
    image; the cutout square is filled with the data set's mean colour,
    which normalises to zero. `augment(images, position=(epoch, step))`
    draws from `(seed, epoch, step)` alone (`keras_s11.data.draws`) and
    touches no state: the same position always gives the same batch.
    Alternating flips follow the images, not the rows: they need
    `augment(images, position, indices)`, the images' indices in the
    training set.

    Args:
        padding: Pixels of reflect padding before the crop (0: no crop).
        cutout: Side of the cutout square (0: no cutout).
        flip: `True` (or `"random"`): a coin per image and epoch;
            `"alternating"`: each image the other way each epoch
            (`keras_s11.data.draws.alternating_flips`); `False`: none.
        seed: Integer seed; `None` draws one from NumPy's global generator.

    Returns:
        `augment(images, position, indices=None)`, float32 images out.
    """
    flip = check_flip(flip)
    seed = draws.resolve_seed(seed)
    layers = []
    if padding:
        layers.append(("offsets", RandomPadCrop(padding)))
    if flip:
        layers.append(("flip", RandomHorizontalFlip()))
    if cutout:
        layers.append(("centres", Cutout(cutout, fill_value=CIFAR10_MEAN)))

    def augment(images, position, indices=None):
        shape = tf.shape(images)
        drawn = _batch_draws(seed, position[0], position[1], shape[0], shape[1], shape[2], padding)
        if flip == "alternating":
            if indices is None:
                raise ValueError("Alternating flips need the images' `indices`: augment(images, position, indices)")
            drawn["flip"] = _alternating_flips(seed, position[0], indices)
        for name, layer in layers:
            # Crop and flip move uint8 pixels (exact, a quarter of the memory);
            # the cutout writes the fractional mean colour, so it needs floats.
            if isinstance(layer, Cutout):
                images = tf.cast(images, tf.float32)
            images = layer(images, **{name: drawn[name]})
        return tf.cast(images, tf.float32)

    return augment


def make_train_dataset(images, labels, batch_size=512, seed=None, initial_epoch=0, padding=4, cutout=8, flip=True):
    """Builds the training pipeline: one epoch per pass, every epoch a function of (seed, epoch) alone.

    shuffle > batch > pad-crop, flip, cutout (per image, vectorised over the
    batch) > normalise > prefetch. The dataset is one epoch long
    (`len(dataset)` steps; the last incomplete batch is dropped, for a
    constant step count and BN batch size), so `fit(dataset, epochs=24)`
    needs no `steps_per_epoch`, as for any Keras dataset.

    The first pass is epoch `initial_epoch`; the epoch advances when the
    last batch of a pass is read, so each pass over the dataset (an epoch of
    `fit`, a `.repeat()`) is the next epoch. The shuffle order of epoch `e`
    and the augmentation of its step `s` are drawn from `(seed, e)` and
    `(seed, e, s)` (`keras_s11.data.draws`), never from a generator's state.
    So peeking at a batch (`next(iter(ds))`), an abandoned second iterator,
    prefetching or parallel maps change no later batch, and a run resumed
    with `initial_epoch=e` sees exactly the batches the uninterrupted run
    saw. `keras_s11.data.make_train_batches` (no TensorFlow) gives the same
    batches, bit for bit. (A tf.distribute strategy's prefetching to its
    devices takes a few batches ahead of the steps, and a pass read to its
    end that way counts: an epoch of only a few batches can end early, and
    a range test stopped near the end of a pass may count it; so give a
    range test its own input, as `scripts/train.py` does.)

    Args:
        images: uint8 array `(N, H, W, 3)`, kept in memory.
        labels: Integer array `(N,)`.
        batch_size: Global batch size.
        seed: Integer seed in `[0, 2**64)`; `None` draws one from NumPy's
            global generator (seeded by `keras.utils.set_random_seed`).
        initial_epoch: Epoch of the first pass.
        padding: Pixels of reflect padding before the random crop (0: no crop).
        cutout: Side of the cutout square (0: no cutout).
        flip: `True` (or `"random"`), `"alternating"` or `False`, as in
            `make_augmenter`.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)` batches,
        `len(images) // batch_size` of them per pass.

    Raises:
        ValueError: For arrays of the wrong shape, a bad `batch_size`,
            `seed`, `initial_epoch`, `padding`, `cutout` or `flip`, or fewer
            images than one batch.

    Example:

    >>> train_ds = make_train_dataset(x_train, y_train, 512, seed=0)
    >>> model.fit(train_ds, epochs=24)
    """
    images, labels = check_arrays(images, labels)
    check_batch_size(batch_size)
    check_augmentation(images, padding, cutout)
    steps = train_steps(images, batch_size, initial_epoch)
    seed = draws.resolve_seed(seed)
    augment = make_augmenter(padding, cutout, flip, seed)
    # The arrays stay in memory as two tensors; the pipeline batches indices
    # and gathers each batch at once (batching 50,000 single examples costs
    # more than the augmentation).
    images, labels = tf.constant(images), tf.constant(labels)
    # The epoch of the next pass: read when a pass starts, advanced when its
    # last batch is read.
    next_epoch = tf.Variable(initial_epoch, dtype=tf.int64, trainable=False, name="next_epoch")

    def epoch_batches(_):
        epoch = next_epoch.read_value()
        order = _epoch_order(seed, epoch, len(labels))
        batches = tf.reshape(order[: steps * batch_size], (steps, batch_size))
        return tf.data.Dataset.from_tensor_slices(batches).enumerate().map(lambda step, rows: (epoch, step, rows))

    def load(epoch, step, rows):
        x = augment(tf.gather(images, rows), position=(epoch, step), indices=rows)
        return step, normalize(x), tf.gather(labels, rows)

    def end_of_pass(step, x, y):
        advanced = tf.cond(tf.equal(step, steps - 1), lambda: next_epoch.assign_add(1), lambda: next_epoch.read_value())
        with tf.control_dependencies([advanced]):
            return tf.identity(x), tf.identity(y)

    dataset = tf.data.Dataset.range(1).flat_map(epoch_batches)
    # The draws depend on (seed, epoch, step) only, so batches can be augmented
    # in parallel and still come out in order and identical.
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
    # After the prefetch, so it runs in the reader's thread when it takes the
    # last batch: a peek, however far the prefetch ran ahead, ends no pass.
    dataset = dataset.map(end_of_pass).apply(tf.data.experimental.assert_cardinality(steps))
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False  # a prefetch after it would run it ahead
    return dataset.with_options(options)


make_resumable_train_dataset = make_train_dataset
"""The former name of `make_train_dataset` (the resumable pipeline is now the only one)."""


def make_eval_dataset(images, labels, batch_size=512):
    """Builds the evaluation pipeline: batch > normalise > prefetch, in order.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`.
        batch_size: Batch size.

    Returns:
        A `tf.data.Dataset` of `(float32 images, int32 labels)` batches.
    """
    images, labels = check_arrays(images, labels)
    check_batch_size(batch_size)
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
    images = check_images(images)
    check_batch_size(batch_size)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
    return dataset.map(normalize).prefetch(tf.data.AUTOTUNE)
