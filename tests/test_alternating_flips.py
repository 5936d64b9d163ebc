"""Alternating flips: a coin per image in the first epoch, then each image the other way each epoch."""

import numpy as np
import pytest

from keras_s11.data import CIFAR10_MEAN, CIFAR10_STD, make_train_batches
from keras_s11.data.draws import alternating_flips


def column_images(n):
    """uint8 images whose pixel (r, c) holds (c, index % 256, index // 256): flips and images are identifiable."""
    images = np.zeros((n, 32, 32, 3), np.uint8)
    images[..., 0] = np.arange(32)[None, None, :]
    images[..., 1] = (np.arange(n) % 256)[:, None, None]
    images[..., 2] = (np.arange(n) // 256)[:, None, None]
    return images


def flips_seen(batches, epochs):
    """`(epochs, n)` bool: whether each image came out flipped in each epoch (from the pixels alone)."""
    n = batches.steps_per_epoch * batches.batch_size
    seen = np.zeros((epochs, n), bool)
    for epoch in range(epochs):
        for step in range(batches.steps_per_epoch):
            x, _ = batches.batch_at(epoch, step)
            x = x * np.float32(CIFAR10_STD) + np.float32(CIFAR10_MEAN)  # back to pixel values
            index = np.rint(x[:, 0, 0, 1] + 256 * x[:, 0, 0, 2]).astype(int)
            seen[epoch, index] = np.rint(x[:, 0, 0, 0]) == 31  # the first column holds column 31: flipped
    return seen


def test_each_image_is_seen_the_other_way_every_epoch_after_a_coin_in_the_first():
    images = column_images(512)
    batches = make_train_batches(images, np.zeros(512), 64, seed=3, padding=0, cutout=0, flip="alternating")
    seen = flips_seen(batches, epochs=4)
    assert 0.44 < seen[0].mean() < 0.56
    np.testing.assert_array_equal(seen[1:], ~seen[:-1])
    np.testing.assert_array_equal(seen[0], alternating_flips(3, 0, np.arange(512)))
    # Independent coins (the default) show about half the images the same way in two epochs in a row.
    coins = flips_seen(make_train_batches(images, np.zeros(512), 64, seed=3, padding=0, cutout=0), epochs=2)
    assert 0.4 < np.mean(coins[0] == coins[1]) < 0.6


def test_the_flips_follow_the_image_not_its_place_in_the_batch():
    indices = np.array([5, 900, 17, 3, 70000])
    flips = alternating_flips(8, 0, indices)
    np.testing.assert_array_equal(alternating_flips(8, 0, indices[::-1]), flips[::-1])
    np.testing.assert_array_equal(alternating_flips(8, 1, indices), ~flips)
    np.testing.assert_array_equal(alternating_flips(8, 6, indices), flips)
    assert not np.array_equal(alternating_flips(9, 0, np.arange(64)), alternating_flips(8, 0, np.arange(64)))


def test_alternating_flips_equal_the_tf_data_pipeline_bit_for_bit():
    from keras_s11.data import make_train_dataset

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, size=(150, 32, 32, 3), dtype=np.uint8), np.arange(150) % 10
    tf_batches = make_train_dataset(images, labels, 32, seed=11, initial_epoch=1, flip="alternating")
    ours = make_train_batches(images, labels, 32, seed=11, initial_epoch=1, flip="alternating")
    for index, (x, y) in enumerate(tf_batches.repeat().take(9).as_numpy_iterator()):  # two epochs and a bit
        x2, y2 = ours[index % 4]
        np.testing.assert_array_equal(x2, x)
        np.testing.assert_array_equal(y2, y)


@pytest.mark.parametrize("flip", ["sometimes", 2, None])
def test_a_bad_flip_is_named(flip):
    from keras_s11.data import make_train_dataset

    images = np.zeros((32, 32, 32, 3), np.uint8)
    for make in (make_train_batches, make_train_dataset):
        with pytest.raises(ValueError, match="`flip`"):
            make(images, np.zeros(32), 16, seed=0, flip=flip)


def test_the_augmenter_asks_for_the_indices_alternating_flips_need():
    from keras_s11.data import make_augmenter

    augment = make_augmenter(padding=0, cutout=0, flip="alternating", seed=0)
    images = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="indices"):
        augment(images, (0, 0))
    assert augment(images, (0, 0), np.arange(4)).shape == (4, 32, 32, 3)
