"""The random choices of the training input, as pure functions of (seed, epoch, step).

One counter-based generator serves both input pipelines: the tf.data one
(`keras_s11.data.pipeline`) and the TensorFlow-free `PyDataset` one
(`keras_s11.data.train_batches`). Every draw is a hash of its coordinates
(seed, stream, epoch, step, row), not a value taken from a generator whose
state depends on how many batches came before. So an epoch's batches depend
on (seed, epoch) alone: peeking at a batch, a second iterator, prefetching,
threads or a resumed run change nothing, and both pipelines draw the same
numbers bit for bit.

The hash is Chris Wellons' `lowbias32` integer mixer, chained over 32-bit
words. It is written once, on three uint32 operations (xor, right shift,
wrapping multiply) that NumPy and TensorFlow both provide: NumPy is the
default, `pipeline.py` passes TensorFlow's.
"""

import collections

import numpy as np

Uint32Ops = collections.namedtuple("Uint32Ops", ["xor", "right_shift", "multiply"])
"""Elementwise uint32 operations of one array library (multiply wraps mod 2**32)."""

NUMPY_OPS = Uint32Ops(np.bitwise_xor, np.right_shift, np.multiply)

# Streams: each random quantity has its own, so changing one never moves another.
ORDER, CROP_Y, CROP_X, FLIP, CUTOUT_Y, CUTOUT_X, FIRST_FLIP = range(7)

_START = 0x9E3779B9  # golden-ratio constant: the chain never starts from 0
_UINT32 = 2**32
# Integer draws use the top 16 bits of a hash: uniform over up to 2**16 values.
DRAW_BITS = 16


def mix32(x, ops=NUMPY_OPS):
    """`lowbias32`: a bijective 32-bit integer mixer on uint32 arrays.

    Args:
        x: uint32 array (or tensor of the library of `ops`).
        ops: The `Uint32Ops` of that library.

    Returns:
        uint32 array of the same shape.
    """
    x = ops.xor(x, ops.right_shift(x, 16))
    x = ops.multiply(x, 0x7FEB352D)
    x = ops.xor(x, ops.right_shift(x, 15))
    x = ops.multiply(x, 0x846CA68B)
    return ops.xor(x, ops.right_shift(x, 16))


def hash_words(words, ops=NUMPY_OPS):
    """Hashes a sequence of uint32 words (arrays that broadcast together).

    Each step xors the next word into the state and mixes it. Since `mix32`
    is a bijection, words that differ only in the last position always hash
    to different values (no two images of an epoch share a sort key).

    Args:
        words: uint32 arrays of the library of `ops`, first to last.
        ops: The `Uint32Ops` of that library.

    Returns:
        uint32 array, the broadcast shape of the words.
    """
    state = None
    for word in words:
        state = mix32(ops.xor(word, _START) if state is None else ops.xor(state, word), ops)
    return state


def below(hashes, n, ops=NUMPY_OPS):
    """Integers uniform in `[0, n)` from uint32 hashes, `n <= 2**16`."""
    return ops.right_shift(ops.multiply(ops.right_shift(hashes, 32 - DRAW_BITS), n), DRAW_BITS)


def flip_threshold(rate):
    """The integer threshold: a draw of `DRAW_BITS` bits below it flips (probability `rate`)."""
    return int(round(rate * 2**DRAW_BITS))


def seed_words(seed):
    """The two 32-bit words of a seed in `[0, 2**64)`, as Python ints."""
    return seed % _UINT32, seed // _UINT32


def resolve_seed(seed):
    """A seed for the pipelines: `seed` itself, or one drawn from NumPy's global generator if `None`.

    `keras.utils.set_random_seed` seeds NumPy's global generator, so a seed
    drawn here is reproducible after it.

    Raises:
        ValueError: If `seed` is not `None` or an integer in `[0, 2**64)`.
    """
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"Argument `seed` must be None or an integer in [0, 2**64). Received: seed={seed!r}")
    return int(seed)


def epoch_order(seed, epoch, num_images):
    """The shuffle order of an epoch: a permutation of `range(num_images)`.

    The images are sorted by `hash(seed, ORDER, epoch, index)`; the keys are
    all different, so the order is unique (any sort gives it).

    Args:
        seed: Integer seed in `[0, 2**64)`.
        epoch: Epoch number, `>= 0`.
        num_images: Number of images.

    Returns:
        int64 array `(num_images,)`.
    """
    low, high = seed_words(seed)
    words = [np.array([w], np.uint32) for w in (low, high, ORDER, epoch)]
    keys = hash_words([*words, np.arange(num_images, dtype=np.uint32)])
    return np.argsort(keys).astype(np.int64)


def alternating_flips(seed, epoch, indices):
    """Alternating flips: each image flipped at random in epoch 0, then the other way each epoch.

    Image `i` is flipped in epoch `e` when `hash(seed, FIRST_FLIP, i)` draws
    a flip (probability 0.5) and `e` is even, or draws none and `e` is odd
    (airbench's alternating flip): over any two epochs in a row every image
    is seen both ways, where independent coins show half the images the
    same way twice.

    Args:
        seed: Integer seed in `[0, 2**64)`.
        epoch: Epoch number, `>= 0`.
        indices: Integer array, the images (their indices in the training set).

    Returns:
        bool array, the shape of `indices`.
    """
    low, high = seed_words(seed)
    words = [np.array([w], np.uint32) for w in (low, high, FIRST_FLIP)]
    hashes = hash_words([*words, np.asarray(indices).astype(np.uint32)])
    return ((hashes >> (32 - DRAW_BITS)) < flip_threshold(0.5)) != bool(epoch % 2)


def batch_draws(seed, epoch, step, batch_size, height, width, padding, flip_rate):
    """The augmentation draws of one batch: crop offsets, flips, cutout centres.

    Args:
        seed: Integer seed in `[0, 2**64)`.
        epoch, step: Position of the batch.
        batch_size: Rows of the batch.
        height, width: Image size.
        padding: Pixels of padding before the crop (offsets in `[0, 2 * padding]`).
        flip_rate: Probability of a horizontal flip.

    Returns:
        A dict: `"offsets"` int32 `(batch, 2)` (dy, dx), `"flip"` bool
        `(batch,)`, `"centres"` int32 `(batch, 2)` (cy, cx) inside the image.
    """
    low, high = seed_words(seed)
    rows = np.arange(batch_size, dtype=np.uint32)

    def draw(stream):
        prefix = [np.array([w], np.uint32) for w in (low, high, stream, epoch, step)]
        return hash_words([*prefix, rows])

    offsets = np.stack([below(draw(CROP_Y), 2 * padding + 1), below(draw(CROP_X), 2 * padding + 1)], axis=1)
    flip = (draw(FLIP) >> (32 - DRAW_BITS)) < flip_threshold(flip_rate)
    centres = np.stack([below(draw(CUTOUT_Y), height), below(draw(CUTOUT_X), width)], axis=1)
    return {"offsets": offsets.astype(np.int32), "flip": flip, "centres": centres.astype(np.int32)}
