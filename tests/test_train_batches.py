"""The TensorFlow-free training input: same semantics and same draws as the tf.data pipeline; reproducible."""

import time

import numpy as np
import pytest

from keras_s11.data import CIFAR10_MEAN, CIFAR10_STD, EvalBatches, TrainBatches, make_train_batches, normalize_array
from keras_s11.data.draws import batch_draws, epoch_order
from keras_s11.data.numpy_augment import augment_batch


def random_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


def coordinate_images(n):
    """uint8 images whose pixel (r, c) holds (r, c, index % 256): every crop and flip is identifiable."""
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    images = np.zeros((n, 32, 32, 3), np.uint8)
    images[..., 0], images[..., 1] = rows, cols
    images[..., 2] = (np.arange(n) % 256)[:, None, None]
    return images


def raw(images, rows, draws, **kwargs):
    """`augment_batch` without the normalisation: pixel values as float32."""
    return augment_batch(images, rows, draws, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), **kwargs)


def test_batches_equal_the_tf_data_pipeline_bit_for_bit():
    from keras_s11.data import make_train_dataset

    images, labels = random_images(150)
    for initial_epoch in (0, 3):
        tf_batches = make_train_dataset(images, labels, 32, seed=11, initial_epoch=initial_epoch)
        ours = make_train_batches(images, labels, 32, seed=11, initial_epoch=initial_epoch)
        assert ours.steps_per_epoch == 4  # 150 // 32, the rest dropped
        assert len(tf_batches) == len(ours) == 4
        for index, (x, y) in enumerate(tf_batches.repeat().take(9).as_numpy_iterator()):  # two epochs and a bit
            x2, y2 = ours[index % 4]  # each pass is the next epoch
            assert x2.dtype == np.float32 and y2.dtype == np.int32
            np.testing.assert_array_equal(x2, x)
            np.testing.assert_array_equal(y2, y)


def test_crop_offsets_stay_within_the_padding_and_every_one_occurs():
    images = coordinate_images(512)
    draws = batch_draws(0, 0, 0, 512, 32, 32, padding=4, flip_rate=0.5)
    offsets = draws["offsets"]
    assert offsets.min() == 0 and offsets.max() == 8
    assert len({tuple(o) for o in offsets}) == 81  # all 9 x 9 windows, per image
    out = raw(images, np.arange(512), draws, cutout=0, flip=False)
    for image, crop, (dy, dx) in zip(images[:64], out[:64], offsets[:64]):
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode="reflect")
        np.testing.assert_array_equal(crop, padded[dy : dy + 32, dx : dx + 32])


def test_flips_are_exact_per_image_at_about_half_rate():
    images = coordinate_images(256)
    draws = batch_draws(1, 0, 0, 4096, 32, 32, padding=0, flip_rate=0.5)
    assert 0.47 < draws["flip"].mean() < 0.53
    first = {k: v[:256] for k, v in draws.items()}
    out = raw(images, np.arange(256), first, padding=0, cutout=0)
    for image, result, flipped in zip(images, out, first["flip"]):
        np.testing.assert_array_equal(result, image[:, ::-1] if flipped else image)
    assert batch_draws(1, 0, 0, 64, 32, 32, 0, 1.0)["flip"].all()
    assert not batch_draws(1, 0, 0, 64, 32, 32, 0, 0.0)["flip"].any()


def test_cutout_is_an_8x8_square_at_the_drawn_centre_clipped_at_the_border():
    images = np.full((512, 32, 32, 3), 200, np.uint8)
    draws = batch_draws(2, 5, 7, 512, 32, 32, padding=0, flip_rate=0.5)
    out = augment_batch(images, np.arange(512), draws, padding=0, flip=False)
    cut = np.all(out == 0.0, axis=-1)
    for mask, (cy, cx) in zip(cut, draws["centres"]):
        expected = np.zeros((32, 32), bool)
        expected[max(cy - 4, 0) : cy + 4, max(cx - 4, 0) : cx + 4] = True
        np.testing.assert_array_equal(mask, expected)
    areas = cut.sum(axis=(1, 2))
    assert areas.max() == 64 and areas.min() >= 16 and (areas < 64).any()
    assert draws["centres"].min() == 0 and draws["centres"].max() == 31
    untouched = out[~cut]
    np.testing.assert_array_equal(untouched, np.broadcast_to(normalize_array(np.full(3, 200)), untouched.shape))


def test_normalisation_is_mean_and_std_per_channel():
    images, labels = random_images(64)
    plain = make_train_batches(images, labels, 64, seed=0, padding=0, cutout=0, flip=False)
    x, y = plain[0]
    order = epoch_order(0, 0, 64)
    np.testing.assert_array_equal(y, labels[order])
    expected = (images[order].astype(np.float64) - np.asarray(CIFAR10_MEAN)) / np.asarray(CIFAR10_STD)
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(EvalBatches(images, labels, 64)[0][0], normalize_array(images))


def test_each_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    images, labels = random_images(70)
    labels = np.arange(70)  # a label tells which image a row came from
    batches = make_train_batches(images, labels, 16, seed=3)
    epochs = [np.concatenate([batches[s][1] for s in range(4)]) for e in range(3)]  # three passes
    for seen in epochs:
        assert len(set(seen)) == 64  # without replacement; 6 images dropped
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    assert batches.epoch == 3
    again = make_train_batches(images, labels, 16, seed=3)
    np.testing.assert_array_equal(again.batch_at(1, 1)[0], batches.batch_at(1, 1)[0])
    assert not np.array_equal(make_train_batches(images, labels, 16, seed=4)[0][0], batches[0][0])
    resumed = make_train_batches(images, labels, 16, seed=3, initial_epoch=2)
    np.testing.assert_array_equal(resumed[1][0], batches.batch_at(2, 1)[0])


def test_threads_and_reading_order_change_nothing():
    images, labels = random_images(96)
    plain = TrainBatches(images, labels, 16, seed=5, threads=0)
    threaded = TrainBatches(images, labels, 16, seed=5, threads=2, prefetch=3)
    for index in (4, 0, 5, 3, 4, 1, 2, 0, 3, 5, 1, 2, 4):  # the pass ends at the first 2, in any order
        np.testing.assert_array_equal(threaded[index][0], plain[index][0])
    assert threaded.epoch == plain.epoch == 2
    threaded.close()


def test_peek_sleep_and_second_iterator_change_no_later_seeded_result():
    # Issue: a notebook's `next(iter(train_ds))` before `fit` changed the
    # training. Now `fit` after a peek, a pause and a second, abandoned
    # iterator gives the same weights as `fit` alone, for both inputs.
    import keras

    from keras_s11.data import make_train_dataset

    images, labels = random_images(96)

    def trained_weights(make, disturb):
        data = make(images, labels, 32, seed=7)
        if disturb:
            next(iter(data))
            time.sleep(0.2)  # prefetching threads run ahead meanwhile
            second = iter(data)
            next(second), next(second)
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
        model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(data, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    for make in (make_train_dataset, make_train_batches):
        for a, b in zip(trained_weights(make, False), trained_weights(make, True), strict=True):
            np.testing.assert_array_equal(a, b)


def test_seed_none_follows_keras_set_random_seed():
    import keras

    images, labels = random_images(32)
    keras.utils.set_random_seed(3)
    first = make_train_batches(images, labels, 16).seed
    keras.utils.set_random_seed(3)
    assert make_train_batches(images, labels, 16).seed == first


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(seed=-1), "seed"),
        (dict(seed=1.5), "seed"),
        (dict(initial_epoch=-1), "initial_epoch"),
        (dict(padding=32), "padding"),
        (dict(cutout=-1), "cutout"),
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=33), "batch_size"),
        (dict(threads=-1), "threads"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    images, labels = random_images(32)
    with pytest.raises(ValueError, match=name):
        TrainBatches(images, labels, **{"batch_size": 16, **kwargs})


def test_eval_batches_keep_order_and_the_last_short_batch():
    images, labels = random_images(70)
    batches = EvalBatches(images, labels, 32)
    assert len(batches) == 3 and len(batches[2][0]) == 6
    np.testing.assert_array_equal(np.concatenate([batches[i][1] for i in range(3)]), labels)
    assert EvalBatches(images, None, 32)[1].shape == (32, 32, 32, 3)
    with pytest.raises(IndexError):
        batches[3]


def test_range_test_input_repeats_a_finite_pydataset_and_keeps_an_endless_one():
    import keras

    from keras_s11.data import make_train_dataset
    from keras_s11.lr_finder import repeat_input

    images, labels = random_images(70)
    finite = EvalBatches(images, labels, 32)
    repeated = repeat_input(finite)
    assert repeated.num_batches is None
    np.testing.assert_array_equal(repeated[4][1], finite[1][1])  # 4 % 3 batches
    train = make_train_batches(images, labels, 16, seed=0)  # 4 steps an epoch
    repeated = repeat_input(train)
    for index in range(10):  # across two epoch boundaries: each pass is the next epoch
        np.testing.assert_array_equal(repeated[index][0], train.batch_at(index // 4, index % 4)[0])

    class Endless(keras.utils.PyDataset):
        num_batches = None

    endless = Endless()
    assert repeat_input(endless) is endless
    assert repeat_input(make_train_dataset(images, labels, 16, seed=0)) is not None
    with pytest.raises(TypeError, match="dataset"):
        repeat_input([images, labels])
