"""Keras's epoch convention: a training input's length is an epoch, and `fit` needs no `steps_per_epoch`."""

import keras
import numpy as np
import pytest

from keras_s11.callbacks import LRRangeTest, OneCycle
from keras_s11.data import make_train_batches, make_train_dataset

STEPS = 6  # 100 images // 16, the last 4 dropped


def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(100, 32, 32, 3), dtype=np.uint8), np.arange(100) % 10


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def first_pass(train_input):
    """The batches of one pass over a fresh training input, as NumPy arrays."""
    if isinstance(train_input, keras.utils.PyDataset):
        return [train_input[index] for index in range(len(train_input))]
    return list(train_input.as_numpy_iterator())


class StepsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = []

    def on_epoch_begin(self, epoch, logs=None):
        self.steps.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.steps[-1] += 1


@pytest.mark.parametrize("make", [make_train_dataset, make_train_batches])
def test_fit_without_steps_per_epoch_reads_each_epoch_of_a_fresh_input(make):
    images, labels = data()
    train = make(images, labels, 16, seed=3)
    assert len(train) == STEPS
    counter, one_cycle = StepsPerEpoch(), OneCycle(0.01, 0.1, epochs=3, peak_epoch=1)
    model = tiny_model()
    model.fit(train, epochs=3, shuffle=False, callbacks=[counter, one_cycle], verbose=0)
    assert counter.steps == [STEPS] * 3
    assert len(one_cycle.lrs) == 3 * STEPS

    # The same steps by hand, on the first pass of inputs built to start at epochs 0, 1 and 2.
    by_hand = tiny_model()
    lrs = iter(one_cycle.lrs)
    for epoch in range(3):
        for x, y in first_pass(make(images, labels, 16, seed=3, initial_epoch=epoch)):
            by_hand.optimizer.learning_rate = next(lrs)
            by_hand.train_on_batch(x, y)
    for ours, expected in zip(model.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, expected)


def test_fit_with_keras_shuffled_batch_order_still_moves_one_epoch_a_pass():
    images, labels = data()
    train = make_train_batches(images, labels, 16, seed=3)
    tiny_model().fit(train, epochs=2, verbose=0)  # shuffle=True: Keras reads each pass's batches out of order
    assert train.epoch == 2


@pytest.mark.parametrize("make", [make_train_dataset, make_train_batches])
def test_range_test_runs_its_own_steps_across_epochs_and_warns_when_fit_ends_first(make):
    images, labels = data()
    model = tiny_model()
    before = model.get_weights()
    test = LRRangeTest(1e-3, 1.0, num_steps=10, divergence_factor=None)
    model.fit(make(images, labels, 16, seed=3), epochs=3, callbacks=[test], verbose=0)
    assert len(test.losses) == 10  # 6 + 4: into the second epoch, then it stops
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="ran 6 of its 10 steps"):
        model.fit(make(images, labels, 16, seed=3), epochs=1, callbacks=[LRRangeTest(num_steps=10)], verbose=0)
