"""`find_lr_range` on anyone's model: the inputs `fit` takes, any optimizer with an LR, the model left as it was."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_s11.callbacks import OneCycle
from keras_s11.lr_finder import LRRangeWarning, find_lr_range

N = 64  # samples


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]


def regression_model(optimizer=None, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer or keras.optimizers.SGD(0.01, momentum=0.9), "mse", metrics=["mae"])
    return model


def two_input_model():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    model = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


class Batches(keras.utils.PyDataset):
    """The arrays in two batches of 32."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return self.x[index * 32 : (index + 1) * 32], self.y[index * 32 : (index + 1) * 32]


def quietly(*args, **kwargs):
    """`find_lr_range` with the reading's warnings off: these tests run too few steps to read a curve."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRRangeWarning)
        return find_lr_range(*args, verbose=0, **kwargs)


def snapshot(model):
    weights = [np.array(w) for w in model.get_weights()]
    return weights, [np.array(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables]


def assert_same(before, after):
    for a, b in zip(before[0] + before[1], after[0] + after[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_arrays_are_repeated_over_epochs_to_reach_the_steps():
    """One batch of all 64 samples an epoch: 5 steps take 5 passes, each the loss on the whole data."""
    x, y = data()
    model = regression_model()
    expected = float(model.evaluate(x, y, batch_size=N, verbose=0)[0])
    result = quietly(model, x, y, batch_size=N, start_lr=1e-12, end_lr=2e-12, num_steps=5)  # the weights stay put
    np.testing.assert_allclose(result.losses, [expected] * 5, rtol=1e-6)
    np.testing.assert_allclose(result.lrs, 1e-12 * 2.0 ** (np.arange(5) / 4), rtol=1e-12)


def test_arrays_are_batched_by_32_as_in_fit_and_shuffled_reproducibly():
    x, y = data()
    model = regression_model()
    runs = []
    for seed in (0, 0, 1):
        keras.utils.set_random_seed(seed)
        runs.append(quietly(model, x, y, start_lr=1e-12, end_lr=2e-12, num_steps=6).losses)
    assert runs[0] == runs[1]  # the same seed: the same batches, bit for bit
    assert runs[0] != runs[2]  # another seed shuffles otherwise
    # Two batches of 32 an epoch: each pair of steps covers the data once, so each pair averages its loss.
    whole = float(model.evaluate(x, y, batch_size=N, verbose=0)[0])
    for losses in runs:
        np.testing.assert_allclose(np.reshape(losses, (3, 2)).mean(axis=1), [whole] * 3, rtol=1e-5)


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_two_input_model_takes_a_list_or_a_dict_of_arrays(kind):
    x, y = data()
    model = two_input_model()
    inputs = [x[:, :2], x[:, 2:]] if kind == "list" else {"a": x[:, :2], "b": x[:, 2:]}
    expected = float(model.evaluate(inputs, y, batch_size=N, verbose=0))
    before = snapshot(model)
    result = quietly(model, inputs, y, batch_size=N, start_lr=1e-12, end_lr=2e-12, num_steps=3)
    np.testing.assert_allclose(result.losses, [expected] * 3, rtol=1e-6)
    result = quietly(model, inputs, y, batch_size=16, start_lr=1e-3, end_lr=1.0, num_steps=10)
    assert len(result.losses) == 10 and result.losses[0] != result.losses[-1]
    assert_same(before, snapshot(model))


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_a_dataset_of_two_batches_is_repeated(kind):
    x, y = data()
    model = regression_model()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32) if kind == "tf.data" else Batches(x, y)
    first, second = (float(model.evaluate(x[i : i + 32], y[i : i + 32], verbose=0)[0]) for i in (0, 32))
    result = quietly(model, dataset, start_lr=1e-12, end_lr=2e-12, num_steps=5)
    np.testing.assert_allclose(result.losses, [first, second, first, second, first], rtol=1e-6)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.Adam(1e-3),
        lambda: keras.optimizers.AdamW(1e-3, weight_decay=0.01),
        lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3)),
    ],
    ids=["SGD", "Adam", "AdamW", "LossScaleOptimizer"],
)
def test_weights_optimizer_state_and_lr_come_back_bit_for_bit(make_optimizer):
    x, y = data()
    model = regression_model(make_optimizer())
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # slots (momentum, Adam's moments) and iterations in use
    before = snapshot(model)
    lr = float(model.optimizer.learning_rate)
    assert any(np.any(v) for v in before[1][2:])  # non-zero slots to restore
    result = quietly(model, x, y, batch_size=16, start_lr=1e-4, end_lr=1.0, num_steps=12, divergence_factor=None)
    assert len(result.lrs) == 12 and result.lrs[-1] == pytest.approx(1.0)
    assert max(result.losses) > 1.5 * min(result.losses)  # the test trained: there was something to undo
    assert_same(before, snapshot(model))
    assert float(model.optimizer.learning_rate) == lr


def test_a_fit_that_fails_midway_leaves_the_model_as_it_was():
    x, y = data()

    class Failing(Batches):
        calls = 0

        def __getitem__(self, index):
            Failing.calls += 1
            if Failing.calls == 5:
                raise RuntimeError("the disk went away")
            return super().__getitem__(index)

    model = regression_model()
    model.fit(x, y, epochs=1, verbose=0)
    before = snapshot(model)
    with pytest.raises(Exception, match="the disk went away"):  # TensorFlow re-raises it as an UnknownError
        quietly(model, Failing(x, y), start_lr=1e-3, end_lr=1.0, num_steps=8)
    assert_same(before, snapshot(model))


def test_learning_rates_in_ys_place_get_the_datasets_error():
    x, y = data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    with pytest.raises(ValueError, match=r"Argument `y` must be None when `x` is a dataset.*Received: y=0.001"):
        quietly(regression_model(), dataset, 1e-3, 1.0, 6)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (("images.npz",), {}, TypeError, "Argument `x` must be a NumPy array.*Received: x of type str"),
        (([1.0, 2.0],), {}, TypeError, "Argument `x` must be .*Received: x of type list holding float"),
        ((iter([]),), {}, TypeError, "Received: x of type list_iterator"),
        (("x", "y[:10]"), {}, ValueError, "`x` and `y` must hold the same number of samples. Received: 64 and 10"),
        (("x", "y"), {"batch_size": 0}, ValueError, "Argument `batch_size` must be a positive integer.*batch_size=0"),
        (("x[:0]", "y[:0]"), {}, ValueError, "Argument `x` must hold at least one sample"),
        (("dataset", "y"), {}, ValueError, "Argument `y` must be None when `x` is a dataset.*y of type ndarray"),
        (("dataset",), {"batch_size": 8}, ValueError, "Argument `batch_size` must be None when.*batch_size=8"),
        (("x", "y"), {"num_steps": 1}, ValueError, "Argument `num_steps`.*num_steps=1"),
    ],
)
def test_refused_inputs_get_one_clear_error_before_any_training(args, kwargs, error, message):
    x, y = data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    names = {"x": x, "y": y, "x[:0]": x[:0], "y[:0]": y[:0], "y[:10]": y[:10], "dataset": dataset}
    model = regression_model()
    before = snapshot(model)
    with pytest.raises(error, match=message):
        find_lr_range(model, *[names.get(a, a) if isinstance(a, str) else a for a in args], verbose=0, **kwargs)
    assert_same(before, snapshot(model))
    assert model.optimizer.iterations.numpy() == 0


def test_refuses_a_model_it_cannot_drive():
    x, y = data()
    with pytest.raises(TypeError, match="Argument `model` must be a keras.Model. Received: model of type str"):
        find_lr_range("model", x, y)
    bare = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="bare")
    with pytest.raises(ValueError, match="Argument `model` must be compiled.*Received: model 'bare', not compiled"):
        find_lr_range(bare, x, y)
    scheduled = regression_model(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)))
    with pytest.raises(ValueError, match="float learning rate"):
        find_lr_range(scheduled, x, y, verbose=0)


def test_the_result_feeds_the_one_cycle_in_one_line():
    x, y = data()
    model = regression_model()
    result = quietly(model, x, y, batch_size=16, start_lr=1e-4, end_lr=1.0, num_steps=40)
    one_cycle = OneCycle.from_range_test(result, epochs=2, peak_epoch=1)
    assert (one_cycle.lr_min, one_cycle.lr_max) == (result.lr_min, result.lr_max)
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[one_cycle], verbose=0)  # 4 steps an epoch
    expected = [result.lr_min + (result.lr_max - result.lr_min) * min(s / 4, 2 - s / 4) for s in range(8)]
    np.testing.assert_allclose(one_cycle.lrs, expected, rtol=1e-6)
    assert OneCycle.from_range_test(result.to_dict(), epochs=2, peak_epoch=1).lr_max == result.lr_max
    figure = result.plot()
    assert figure.axes[0].get_xscale() == "log"
