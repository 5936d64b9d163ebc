import numpy as np
import pytest

from keras_s11.data import (
    CIFAR10_MEAN,
    Cutout,
    RandomHorizontalFlip,
    RandomPadCrop,
    make_resumable_train_dataset,
    make_train_dataset,
    normalize,
)


def coordinate_images(n, size=32):
    """Images whose pixel (r, c) holds (r, c, index): every crop is identifiable."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    images = np.zeros((n, size, size, 3), np.float32)
    images[..., 0], images[..., 1] = rows, cols
    images[..., 2] = np.arange(n)[:, None, None]
    return images


def test_pad_crop_offsets_stay_within_the_padding_and_differ_per_image():
    images = coordinate_images(64)
    out = np.asarray(RandomPadCrop(4, mode="constant", seed=1)(images))
    offsets = []
    for image in out:
        # Constant padding is 0 in all channels; a valid window is a contiguous
        # block of the 40x40 padded grid, recovered from any interior pixel.
        inside = np.argwhere((image[..., 0] > 0) | (image[..., 1] > 0))
        r, c = inside[len(inside) // 2]
        dy = int(r) - int(image[r, c, 0])
        dx = int(c) - int(image[r, c, 1])
        assert -4 <= dy <= 4 and -4 <= dx <= 4
        expected = np.zeros((32, 32))
        for i in range(32):
            for j in range(32):
                si, sj = i - dy, j - dx
                expected[i, j] = si if 0 <= si < 32 and 0 <= sj < 32 else 0
        np.testing.assert_array_equal(image[..., 0], expected)
        offsets.append((dy, dx))
    assert len(set(offsets)) > 20  # per-image offsets, unlike keras.layers.RandomCrop
    assert {dy for dy, _ in offsets} == set(range(-4, 5))


def test_reflect_pad_crop_is_a_window_of_the_reflect_padded_image():
    images = coordinate_images(16)
    out = np.asarray(RandomPadCrop(4, seed=0)(images))
    assert out.shape == images.shape
    for image, crop in zip(images, out):
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode="reflect")
        windows = [
            (dy, dx) for dy in range(9) for dx in range(9) if np.array_equal(padded[dy : dy + 32, dx : dx + 32], crop)
        ]
        assert len(windows) == 1


def test_flip_is_per_image_and_exact():
    images = coordinate_images(64)
    out = np.asarray(RandomHorizontalFlip(seed=3)(images))
    flipped = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)])
    same = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
    assert np.all(flipped ^ same)
    assert 10 < flipped.sum() < 54


def test_cutout_square_is_8x8_inside_and_clipped_at_the_border():
    images = np.full((256, 32, 32, 3), 255.0, np.float32)
    out = np.asarray(Cutout(8, fill_value=CIFAR10_MEAN, seed=5)(images))
    filled = np.all(out == np.asarray(CIFAR10_MEAN, np.float32), axis=-1)
    areas = filled.sum(axis=(1, 2))
    assert areas.max() == 64
    assert areas.min() >= 16  # a corner centre still leaves a 4x4 square
    assert (areas < 64).any()  # clipped at the border for some images
    for mask in filled:
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        assert mask.sum() == len(rows) * len(cols)  # a rectangle
        assert np.all(np.diff(rows) == 1) and np.all(np.diff(cols) == 1)
    untouched = out[~filled]
    assert np.all(untouched == 255.0)


def test_pipeline_shapes_dtypes_and_normalisation():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(100, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=100)
    ds = make_train_dataset(images, labels, batch_size=32, seed=0)
    x, y = next(iter(ds.take(1).as_numpy_iterator()))
    assert x.shape == (32, 32, 32, 3) and x.dtype == np.float32
    assert y.shape == (32,) and y.dtype == np.int32
    plain = make_train_dataset(images, labels, 100, padding=0, cutout=0, flip=False, seed=0)
    x, y = next(iter(plain.take(1).as_numpy_iterator()))
    order = [
        np.flatnonzero((labels == label) & np.all(np.asarray(normalize(images)) == xi, axis=(1, 2, 3)))[0]
        for xi, label in zip(x, y)
    ]
    assert sorted(order) == list(range(100))  # a permutation of the data, normalised exactly


def test_pipeline_is_deterministic_under_a_seed_and_reshuffles_each_epoch():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(64) % 10

    def epochs(seed, n=2):
        ds = make_train_dataset(images, labels, batch_size=16, seed=seed)
        batches = [x for x, _ in ds.repeat().take(4 * n).as_numpy_iterator()]  # each pass is the next epoch
        return [np.concatenate(batches[4 * e : 4 * e + 4]) for e in range(n)]

    first, again, other = epochs(7), epochs(7), epochs(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[1])


@pytest.mark.parametrize(
    "layer, arg",
    [(lambda: RandomPadCrop(-1), "padding"), (lambda: Cutout(-2), "size"), (lambda: RandomHorizontalFlip(1.5), "rate")],
)
def test_bad_arguments(layer, arg):
    with pytest.raises(ValueError, match=arg):
        layer()


def test_bad_pipeline_input_is_named():
    with pytest.raises(ValueError, match="images"):
        make_train_dataset(np.zeros((10, 32, 32)), np.zeros(10), 4)
    with pytest.raises(ValueError, match="labels"):
        make_train_dataset(np.zeros((10, 32, 32, 3)), np.zeros(9), 4)
    with pytest.raises(ValueError, match="batch_size"):
        make_train_dataset(np.zeros((10, 32, 32, 3)), np.zeros(10), 0)


def test_augmenter_equals_the_layers_in_the_spec_order_with_the_numpy_draws():
    # The pipeline crops and flips uint8 pixels before the cast: exact, so it
    # must equal pad-crop > flip > cutout applied to float32, with the draws
    # of keras_s11.data.draws (NumPy) at the same (seed, epoch, step).
    import tensorflow as tf

    from keras_s11.data.draws import batch_draws
    from keras_s11.data.pipeline import make_augmenter

    images = np.random.default_rng(3).integers(0, 256, size=(16, 32, 32, 3), dtype=np.uint8)
    crop, flip, cutout = RandomPadCrop(4), RandomHorizontalFlip(), Cutout(8, fill_value=CIFAR10_MEAN)
    augment = make_augmenter(seed=5)
    for epoch, step in ((0, 0), (2, 1)):
        draws = batch_draws(5, epoch, step, 16, 32, 32, padding=4, flip_rate=0.5)
        expected = cutout(
            flip(crop(tf.cast(images, tf.float32), offsets=draws["offsets"]), flip=draws["flip"]),
            centres=draws["centres"],
        )
        np.testing.assert_array_equal(augment(images, position=(epoch, step)), expected)


def test_pipeline_yields_every_image_at_most_once_per_epoch():
    images = np.repeat(np.arange(64, dtype=np.uint8)[:, None, None, None], 32, axis=1).repeat(32, 2).repeat(3, 3)
    labels = np.arange(64)
    ds = make_train_dataset(images, labels, batch_size=16, cutout=0, seed=0)
    batches = list(ds.repeat().take(8).as_numpy_iterator())
    for epoch in range(2):
        seen = np.concatenate([y for _, y in batches[4 * epoch : 4 * epoch + 4]])
        assert sorted(seen) == list(range(64))
    for x, y in batches:  # each image is uniform, so crops and flips keep its value
        np.testing.assert_allclose(x[:, 0, 0, :], np.asarray(normalize(images[y, 0, 0, :])), atol=1e-6)


def test_resumable_pipeline_makes_each_epoch_a_function_of_seed_and_epoch():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(70, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(70)  # a label tells which image a row came from

    def batches(seed, initial_epoch, n):
        ds = make_resumable_train_dataset(images, labels, 16, seed=seed, initial_epoch=initial_epoch)
        return list(ds.repeat().take(n).as_numpy_iterator())

    whole = batches(3, 0, 12)  # three epochs of 4 batches (70 // 16), the last 6 images dropped each time
    resumed = batches(3, 2, 4)
    for (x, y), (x2, y2) in zip(whole[8:], resumed, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    for epoch in range(3):
        seen = np.concatenate([y for _, y in whole[4 * epoch : 4 * epoch + 4]])
        assert len(set(seen)) == 64  # each epoch draws without replacement
    assert not np.array_equal(whole[0][1], whole[4][1])  # reshuffled every epoch
    assert not np.array_equal(whole[0][0], batches(4, 0, 1)[0][0])  # the seed matters
    with pytest.raises(ValueError, match="initial_epoch"):
        make_resumable_train_dataset(images, labels, 16, seed=3, initial_epoch=-1)


def test_layers_take_explicit_draws():
    images = coordinate_images(2)
    offsets = np.array([[0, 8], [8, 3]], np.int32)
    crops = np.asarray(RandomPadCrop(4, seed=0)(images, offsets=offsets))
    for image, crop, (dy, dx) in zip(images, crops, offsets):
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode="reflect")
        np.testing.assert_array_equal(crop, padded[dy : dy + 32, dx : dx + 32])
    flipped = np.asarray(RandomHorizontalFlip(seed=0)(images, flip=np.array([True, False])))
    np.testing.assert_array_equal(flipped, [images[0][:, ::-1], images[1]])
    cut = np.asarray(Cutout(8, fill_value=-1.0, seed=0)(images, centres=np.array([[0, 0], [16, 20]], np.int32)))
    assert (cut[0] == -1).all(axis=-1).sum() == 16 and (cut[0, :4, :4] == -1).all()
    assert (cut[1] == -1).all(axis=-1).sum() == 64 and (cut[1, 12:20, 16:24] == -1).all()


def test_position_draws_cover_every_crop_flip_and_cutout():
    # The stateless (seed, epoch, step) draws of the resumable pipeline must
    # spread like the layers' own: all 9 x 9 crop offsets, about half the
    # images flipped, cutouts whole (64 pixels) and clipped at the border.
    from keras_s11.data.pipeline import make_augmenter

    images = coordinate_images(512)
    crops = np.asarray(make_augmenter(cutout=0, flip=False, seed=0)(images, position=(0, 0)))
    # Pixel (4, 4) of a crop at offset (dy, dx) is padded pixel (dy + 4, dx + 4): original pixel (dy, dx).
    dy, dx = crops[:, 4, 4, 0], crops[:, 4, 4, 1]
    assert set(dy) == set(dx) == set(range(9))
    flipped = np.asarray(make_augmenter(padding=0, cutout=0, seed=0)(images, position=(0, 0)))
    share = np.mean(flipped[:, 0, 0, 1] == 31)
    assert 0.4 < share < 0.6
    cut = np.asarray(make_augmenter(padding=0, flip=False, seed=0)(images, position=(0, 0)))
    areas = np.sum(np.all(cut == np.asarray(CIFAR10_MEAN, np.float32), axis=-1), axis=(1, 2))
    assert areas.max() == 64 and areas.min() < 64 and areas.min() > 0
    again = np.asarray(make_augmenter(padding=0, flip=False, seed=0)(images, position=(0, 1)))
    assert not np.array_equal(cut, again)  # another step, other squares
