import json
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_s11.callbacks import LRRangeTest
from keras_s11.lr_finder import (
    WIDEST_RECIPE_BANDS,
    LRRangeWarning,
    find_lr_range,
    pick_bands,
    read_range_test,
    suggest_lr_range,
    warn_if_wide,
)
from keras_s11.optimizers import VariableMomentumSGD
from tests.helpers import tiny_dataset, tiny_model

RUNS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "runs")


def test_exponential_and_linear_lr_sequences_are_exact():
    model = tiny_model()
    ds, _, _ = tiny_dataset(batches=5)
    test = LRRangeTest(1e-3, 1e1, num_steps=5, divergence_factor=None)
    model.fit(ds, epochs=1, callbacks=[test], verbose=0)
    np.testing.assert_allclose(test.lrs, [1e-3, 1e-2, 1e-1, 1e0, 1e1], rtol=1e-12)
    linear = LRRangeTest(0.1, 0.5, num_steps=5, mode="linear", divergence_factor=None)
    tiny_model().fit(ds, epochs=1, callbacks=[linear], verbose=0)
    np.testing.assert_allclose(linear.lrs, [0.1, 0.2, 0.3, 0.4, 0.5], rtol=1e-12)


def test_each_step_records_its_own_batch_loss_not_the_running_mean():
    model = tiny_model()
    ds, x, y = tiny_dataset(batches=6)
    # Learning rates so small that the weights do not move: each batch's own
    # loss is then exactly the model's loss on that batch.
    expected = [float(model.evaluate(x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8], verbose=0)[0]) for i in range(6)]
    test = LRRangeTest(1e-12, 2e-12, num_steps=6, divergence_factor=None)
    model.fit(ds, epochs=1, callbacks=[test], verbose=0)
    np.testing.assert_allclose(test.losses, expected, rtol=1e-5)
    running_means = np.cumsum(expected) / np.arange(1, 7)
    assert not np.allclose(test.losses[1:], running_means[1:], rtol=1e-3)
    assert all(a is not None and 0 <= a <= 1 for a in test.accuracies)
    # Smoothed: bias-corrected exponential moving average with weight 0.9 on the past.
    average, smoothed = 0.0, []
    for n, loss in enumerate(test.losses, start=1):
        average = 0.9 * average + 0.1 * loss
        smoothed.append(average / (1 - 0.9**n))
    np.testing.assert_allclose(test.smoothed_losses, smoothed, rtol=1e-12)
    assert test.smoothed_losses[0] == pytest.approx(test.losses[0], rel=1e-12)


def snapshot(model):
    return [np.array(w) for w in model.get_weights()], [np.array(v) for v in model.optimizer.variables]


def test_model_and_optimizer_are_restored_bit_for_bit():
    model = tiny_model(lr=0.05, momentum=0.9, batchnorm=True)
    ds, _, _ = tiny_dataset()
    model.fit(ds, epochs=1, verbose=0)  # builds the optimizer: momentum slots, iterations
    weights, optimizer_state = snapshot(model)
    test = LRRangeTest(1e-2, 10.0, num_steps=6, divergence_factor=None)
    model.fit(ds, epochs=1, callbacks=[test], verbose=0)
    assert len(test.lrs) == 6
    after_weights, after_optimizer = snapshot(model)
    for a, b in zip(weights + optimizer_state, after_weights + after_optimizer):
        np.testing.assert_array_equal(a, b)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert int(model.optimizer.iterations) == 6


def test_an_unbuilt_optimizer_is_left_fresh():
    model = tiny_model(lr=0.05, momentum=0.9)
    weights = [np.array(w) for w in model.get_weights()]
    ds, _, _ = tiny_dataset()
    model.fit(ds, epochs=1, callbacks=[LRRangeTest(1e-2, 1.0, num_steps=6)], verbose=0)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == 0
    slots = [np.array(v) for v in model.optimizer.variables if "momentum" in v.path]
    assert len(slots) == 4 and not any(np.any(slot) for slot in slots)  # one per weight, all zero


def test_stops_at_num_steps_and_on_divergence():
    ds, _, _ = tiny_dataset(batches=6)
    test = LRRangeTest(1e-3, 1e-2, num_steps=3)
    tiny_model().fit(ds.repeat(), steps_per_epoch=6, epochs=2, callbacks=[test], verbose=0)
    assert len(test.lrs) == 3 and not test.diverged
    exploding = LRRangeTest(1.0, 1e6, num_steps=50, divergence_factor=2.0)
    tiny_model().fit(ds.repeat(), steps_per_epoch=50, epochs=1, callbacks=[exploding], verbose=0)
    assert exploding.diverged and len(exploding.lrs) < 50


def test_refuses_a_schedule_optimizer():
    model = tiny_model()
    model.compile(
        optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
        loss="sparse_categorical_crossentropy",
    )
    ds, _, _ = tiny_dataset()
    with pytest.raises(ValueError, match="float learning rate"):
        model.fit(ds, epochs=1, callbacks=[LRRangeTest()], verbose=0)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"start_lr": 1, "end_lr": 0.1}, "start_lr"),
        ({"num_steps": 1}, "num_steps"),
        ({"mode": "cubic"}, "mode"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"divergence_factor": 0.5}, "divergence_factor"),
    ],
)
def test_bad_arguments_are_named(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        LRRangeTest(**kwargs)


LRS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56]


def test_rule_reads_the_onset_and_the_end_of_the_fall():
    # Falls from 2.0 to its minimum 1.4 at 0.16, rises 10 % at 0.32, and "recovers" lower later.
    # A tenth of the fall (0.06) is first covered at 0.04 (1.7 <= 1.94).
    losses = [2.0, 1.96, 1.7, 1.5, 1.4, 1.54, 2.5, 1.2, 1.0]
    assert suggest_lr_range(LRS, losses) == (0.04, 0.16)
    # A larger fraction of the fall moves LRMIN up: 60 % of it (0.36) is first covered at 0.08.
    assert suggest_lr_range(LRS, losses, fall=0.6) == (0.08, 0.16)
    # A rise below 5 % does not end the search.
    assert suggest_lr_range([0.1, 0.2, 0.3, 0.4], [2.0, 1.0, 1.04, 0.9]) == (0.2, 0.4)


def test_rule_on_a_curve_flat_at_the_start():
    # Flat (noise below a tenth of the fall) up to 0.08, then falls to 1.0 at 0.64.
    losses = [2.0, 2.01, 1.99, 2.0, 1.7, 1.3, 1.0, 1.2, 3.0]
    assert suggest_lr_range(LRS, losses) == (0.16, 0.64)
    # A 6 % bump before the loss has fallen 5 % below its start is noise, not the end of the search.
    bumpy = [2.0, 1.95, 2.07, 2.0, 1.7, 1.3, 1.0, 1.2, 3.0]
    assert suggest_lr_range(LRS, bumpy) == (0.16, 0.64)


def test_rule_on_a_curve_that_diverges_early():
    # The minimum is at 0.04; the loss then explodes to inf and NaN.
    losses = [2.0, 1.8, 1.5, 1.8, float("inf"), float("nan"), 0.5, 0.4, 0.3]
    assert suggest_lr_range(LRS, losses) == (0.02, 0.04)


def test_rule_warns_when_the_minimum_is_the_first_lr():
    losses = [1.0, 1.2, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    with pytest.warns(LRRangeWarning, match="lowest at the first LR"):
        assert suggest_lr_range(LRS, losses) == (0.01, 0.01)


# The README's three seeds of the default recipe, and full-width range tests of `--recipe fast`'s network.
RECIPE_RUNS = (
    "full-24ep-ls0.1-s0",
    "full-24ep-ls0.1-s1",
    "full-24ep-ls0.1-s2",
    "range-test-whiten-s0",
    "full-12ep-whiten-s0",
)


@pytest.mark.parametrize("name", RECIPE_RUNS)
def test_the_rule_reads_the_recorded_recipe_runs_picks_again_without_a_warning(name):
    """The README's runs: their curves give the LRs they trained with, and bands no wider than recorded."""
    with open(os.path.join(RUNS, name, "lr_range_test.json")) as file:
        curve = json.load(file)
    test = LRRangeTest()
    test.lrs, test.losses, test.smoothed_losses = curve["lrs"], curve["losses"], curve["smoothed_losses"]
    test.accuracies, test.diverged = curve["accuracies"], curve["diverged"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = read_range_test(test)
    assert (result.lr_min, result.lr_max) == (curve["lr_min"], curve["lr_max"])
    for (low, high), name in ((result.lr_min_band, "LRMIN"), (result.lr_max_band, "LRMAX")):
        assert high / low <= WIDEST_RECIPE_BANDS[name]


def test_rule_refuses_curves_it_cannot_read():
    with pytest.raises(ValueError, match="finite"):
        suggest_lr_range([0.1, 0.2], [float("nan")] * 2)
    with pytest.raises(ValueError, match="equal length"):
        suggest_lr_range([0.1, 0.2], [1.0])
    with pytest.raises(ValueError, match="fall=1.5"):
        suggest_lr_range([0.1, 0.2], [2.0, 1.0], fall=1.5)


def learnable_dataset(n=1024, batch_size=64, seed=0):
    """The label is the arg-max of the first three inputs: a loss that falls as the LR grows."""
    x = np.random.default_rng(seed).normal(size=(n, 4)).astype("float32")
    y = np.argmax(x[:, :3], axis=1)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def test_find_lr_range_returns_curves_and_leaves_the_model_alone(capsys):
    model = tiny_model(lr=0.05)
    weights = [np.array(w) for w in model.get_weights()]
    result = find_lr_range(model, learnable_dataset(), start_lr=1e-3, end_lr=10.0, num_steps=40, verbose=1)
    assert len(result.lrs) == len(result.losses) == len(result.smoothed_losses) == 40
    assert (result.lr_min, result.lr_max) == suggest_lr_range(result.lrs, result.smoothed_losses, losses=result.losses)
    assert 1e-3 < result.lr_min < result.lr_max < 10.0
    expected_bands = pick_bands(result.lrs, result.losses, result.smoothed_losses, result.lr_min, result.lr_max)
    assert (result.lr_min_band, result.lr_max_band) == expected_bands
    assert result.lr_min_band[0] <= result.lr_min <= result.lr_min_band[1]
    assert result.lr_max_band[0] <= result.lr_max <= result.lr_max_band[1]
    assert "LRMAX" in capsys.readouterr().out
    for a, b in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_works_through_float16_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = tiny_model(lr=0.05, momentum=0.9)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    ds, _, _ = tiny_dataset()
    model.fit(ds, epochs=1, verbose=0)
    weights, optimizer_state = snapshot(model)
    test = LRRangeTest(1e-2, 1.0, num_steps=6, divergence_factor=None)
    model.fit(ds, epochs=1, callbacks=[test], verbose=0)
    for a, b in zip(weights + optimizer_state, snapshot(model)[0] + snapshot(model)[1]):
        np.testing.assert_array_equal(a, b)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_an_unbuilt_optimizer_keeps_its_initial_state_not_zeros():
    """Loss scale and a momentum variable must come back as they started, not as 0."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = tiny_model()
    model.compile(optimizer=VariableMomentumSGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    ds, _, _ = tiny_dataset()
    model.fit(ds, epochs=1, callbacks=[LRRangeTest(1e-2, 1.0, num_steps=6)], verbose=0)
    optimizer = model.optimizer
    assert float(optimizer.dynamic_scale) == 2.0**15
    assert float(optimizer.inner_optimizer.momentum_variable) == pytest.approx(0.9)
    assert int(optimizer.iterations) == 0
    before = [np.array(w) for w in model.get_weights()]
    model.fit(ds, epochs=1, verbose=0)  # training still updates the weights afterwards
    assert not np.allclose(before[0], model.get_weights()[0])


def test_range_test_on_the_training_pipeline_triggers_no_shuffle_warning():
    """Keras warns "`shuffle=True` was passed" for a tf.data.Dataset unless `fit` gets `shuffle=False`."""
    from keras_s11.data import make_train_dataset
    from tests.conftest import make_images

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    train_ds = make_train_dataset(make_images(64), np.arange(64) % 10, batch_size=32, seed=0)
    fit_arguments, fit = [], model.fit

    def recording_fit(*args, **kwargs):
        fit_arguments.append(kwargs)
        return fit(*args, **kwargs)

    model.fit = recording_fit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        find_lr_range(model, train_ds, start_lr=1e-3, end_lr=1.0, num_steps=3, verbose=0)
    messages = [str(warning.message) for warning in caught]
    assert not any("`shuffle=True` was passed" in message for message in messages), messages
    assert [arguments["shuffle"] for arguments in fit_arguments] == [False]  # older Keras does not warn: ask `fit`


def _noisy(smoothed, amplitude):
    """Per-step losses around a smoothed curve: +-amplitude, alternating."""
    return smoothed + amplitude * (-1.0) ** np.arange(len(smoothed))


def _falling_then(bottom, rise_to=3.5):
    """A smoothed curve: 3.0 falling 0.05 a step to 2.0 at step 20, then `bottom`, then a steep rise."""
    return np.concatenate([3.0 - 0.05 * np.arange(20), bottom, [rise_to, rise_to + 0.5]])


def test_bands_cover_a_flat_bottom_and_warn_when_wide():
    smoothed = _falling_then([2.0, 2.01, 1.999, 2.008, 2.012, 2.004, 2.01])  # the minimum at step 22
    lrs = 10.0 ** np.linspace(-3, -3 + 0.1 * (len(smoothed) - 1), len(smoothed))  # 0.1 decade a step
    lr_min, lr_max = suggest_lr_range(lrs, smoothed)
    assert lr_max == lrs[22] and lr_min == lrs[3]  # 3.0 - 0.1 * 1.001 is crossed at step 3 (2.85)
    # Noise 0.05 a step: a margin of 2 * 0.05 * sqrt(0.1 / 1.9) = 0.0229 holds all the bottom, not step 19 (2.05).
    lr_min_band, lr_max_band = pick_bands(lrs, _noisy(smoothed, 0.05), smoothed, lr_min, lr_max)
    assert lr_max_band == (lrs[20], lrs[26])
    assert lr_min_band == (lrs[3], lrs[3])  # the fall is steep beside LRMIN: 0.05 a step
    # lrs[26] / lrs[20] = 10 ** 0.6 = 3.98: within the widest LRMAX band of the recorded runs (x8.50).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_wide(lr_min_band, lr_max_band)
    with pytest.warns(LRRangeWarning, match=r"LRMAX is uncertain.*a factor 3.98, wider than the x3.50"):
        warn_if_wide(lr_min_band, lr_max_band, widest={"LRMIN": 1.46, "LRMAX": 3.5})
    # Without noise the bands are the picks themselves, and nothing warns.
    assert pick_bands(lrs, smoothed, smoothed, lr_min, lr_max) == ((lr_min, lr_min), (lr_max, lr_max))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_wide((lr_min, lr_min), (lr_max, lr_max))


def test_the_lrmax_band_spans_two_dips_of_the_same_depth_but_stops_at_the_rise():
    # Two dips (2.0 at step 21, 2.01 at step 25) with a hump of 3 % between: the search goes on past it.
    smoothed = _falling_then([2.01, 2.0, 2.03, 2.06, 2.03, 2.01, 2.04, 2.08])
    lrs = 10.0 ** np.linspace(-3, -3 + 0.1 * (len(smoothed) - 1), len(smoothed))
    lr_min, lr_max = suggest_lr_range(lrs, smoothed)
    assert lr_max == lrs[21]
    _, lr_max_band = pick_bands(lrs, _noisy(smoothed, 0.05), smoothed, lr_min, lr_max)
    assert lr_max_band == (lrs[20], lrs[25])  # within 0.0229 of 2.0: steps 20, 21, 25 (and 2.01 at step 20)


def test_pick_bands_rejects_a_pick_off_the_curve():
    lrs, smoothed = [0.1, 0.2, 0.3], [3.0, 2.0, 2.5]
    with pytest.raises(ValueError, match="lr_max"):
        pick_bands(lrs, smoothed, smoothed, 0.1, 0.35)
    with pytest.raises(ValueError, match="`z`"):
        pick_bands(lrs, smoothed, smoothed, 0.1, 0.2, z=-1)
