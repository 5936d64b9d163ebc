import keras
import numpy as np
import pytest

from keras_s11.callbacks import OneCycle
from keras_s11.optimizers import VariableMomentumSGD
from keras_s11.schedules import OneCycleSchedule, one_cycle
from tests.helpers import tiny_dataset, tiny_model


def test_exact_values_at_start_peak_and_end():
    assert float(one_cycle(0, 0.04, 0.4, 24, 5)) == pytest.approx(0.04)
    assert float(one_cycle(5, 0.04, 0.4, 24, 5)) == pytest.approx(0.4)
    assert float(one_cycle(2.5, 0.04, 0.4, 24, 5)) == pytest.approx(0.22)
    assert float(one_cycle(14.5, 0.04, 0.4, 24, 5)) == pytest.approx(0.22)
    assert float(one_cycle(24, 0.04, 0.4, 24, 5)) == pytest.approx(0.04)
    assert float(one_cycle(30, 0.04, 0.4, 24, 5)) == pytest.approx(0.04)  # no annihilation
    assert float(one_cycle(2.5, 0.04, 0.4, 24, 5, mode="cosine")) == pytest.approx(0.22)
    assert float(one_cycle(1.25, 0.0, 1.0, 24, 5, mode="cosine")) == pytest.approx(0.5 - 0.5 * np.cos(np.pi / 4))


@pytest.mark.parametrize("mode", ["linear", "cosine"])
def test_monotone_up_then_down_and_never_below_lr_min(mode):
    epochs = np.linspace(0, 24, 24 * 97 + 1)
    lrs = np.array([float(one_cycle(e, 0.04, 0.4, 24, 5, mode)) for e in epochs])
    peak = np.argmax(lrs)
    assert epochs[peak] == pytest.approx(5, abs=1e-6)
    assert np.all(np.diff(lrs[: peak + 1]) >= -1e-7)
    assert np.all(np.diff(lrs[peak:]) <= 1e-7)
    assert lrs.min() >= 0.04 - 1e-7


def test_callback_sets_and_records_the_lr_of_every_step():
    model = tiny_model(lr=1.0)
    ds, _, _ = tiny_dataset(batches=4)
    cycle = OneCycle(0.1, 1.0, epochs=3, peak_epoch=1)
    seen = []
    probe = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(model.optimizer.learning_rate))
    )
    history = model.fit(ds, epochs=3, callbacks=[cycle, probe], verbose=0)
    expected = [float(one_cycle(s / 4, 0.1, 1.0, 3, 1)) for s in range(12)]
    np.testing.assert_allclose(cycle.lrs, expected, rtol=1e-6)
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    assert cycle.lrs[0] == pytest.approx(0.1) and cycle.lrs[4] == pytest.approx(1.0)
    np.testing.assert_allclose(history.history["learning_rate"], [expected[3], expected[7], expected[11]], rtol=1e-6)


def test_a_reused_callback_starts_afresh_unless_the_fit_resumes():
    ds, _, _ = tiny_dataset(batches=4)
    cycle = OneCycle(0.1, 1.0, epochs=3, peak_epoch=1)
    model = tiny_model()
    model.fit(ds, epochs=3, callbacks=[cycle], verbose=0)
    first = list(cycle.lrs)
    model.fit(ds, epochs=3, callbacks=[cycle], verbose=0)  # a second cycle from epoch 0
    assert len(first) == 12 and cycle.lrs == first
    # Resuming at epoch 2 from restored values that include half of an interrupted epoch:
    cycle.lrs = first[:8] + [99.0, 99.0]
    model.fit(ds, epochs=3, initial_epoch=2, callbacks=[cycle], verbose=0)
    assert cycle.lrs == first


def test_schedule_and_callback_share_one_formula():
    schedule = OneCycleSchedule(0.04, 0.4, steps_per_epoch=97)
    cycle = OneCycle(0.04, 0.4)
    for step in (0, 1, 100, 485, 1000, 2327):
        assert float(schedule(step)) == pytest.approx(cycle.lr_at(step / 97), rel=1e-6)


def test_schedule_serialises_inside_a_saved_model(tmp_path):
    model = tiny_model()
    model.compile(
        optimizer=keras.optimizers.SGD(OneCycleSchedule(0.04, 0.4, steps_per_epoch=10, mode="cosine")),
        loss="sparse_categorical_crossentropy",
    )
    ds, _, _ = tiny_dataset()
    model.fit(ds, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    schedule = restored.optimizer._learning_rate
    assert isinstance(schedule, OneCycleSchedule)
    assert schedule.get_config() == {
        "lr_min": 0.04,
        "lr_max": 0.4,
        "steps_per_epoch": 10,
        "epochs": 24,
        "peak_epoch": 5,
        "mode": "cosine",
    }


def test_variable_momentum_sgd_matches_keras_sgd_and_reloads(tmp_path):
    ds, _, _ = tiny_dataset()
    results = []
    for optimizer in (
        keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        VariableMomentumSGD(0.1, momentum=0.9, nesterov=True),
    ):
        model = tiny_model()
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(ds, epochs=2, verbose=0)
        results.append(model)
    for a, b in zip(*(m.get_weights() for m in results)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    results[1].save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(restored.optimizer, VariableMomentumSGD) and restored.optimizer.nesterov


def test_steps_per_epoch_must_be_known():
    model = tiny_model()
    ds, _, _ = tiny_dataset()
    unknown = ds.filter(lambda a, b: True)  # unknown cardinality
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(unknown, epochs=1, callbacks=[OneCycle(0.01, 0.1, epochs=2, peak_epoch=1)], verbose=0)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"lr_min": 0.4, "lr_max": 0.04}, "lr_min"),
        ({"peak_epoch": 24}, "peak_epoch"),
        ({"peak_epoch": 0}, "peak_epoch"),
        ({"mode": "step"}, "mode"),
        ({"steps_per_epoch": 0}, "steps_per_epoch"),
    ],
)
def test_bad_arguments_are_named(kwargs, arg):
    args = {"lr_min": 0.04, "lr_max": 0.4, **kwargs}
    with pytest.raises(ValueError, match=arg):
        OneCycle(**args)


def test_one_cycle_sets_the_lr_through_float16_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = tiny_model(lr=0.1, momentum=0.9)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    ds, _, _ = tiny_dataset(batches=4)
    cycle = OneCycle(0.01, 0.1, epochs=2, peak_epoch=1)
    model.fit(ds, epochs=2, callbacks=[cycle], verbose=0)
    assert cycle.lrs[4] == pytest.approx(0.1)  # step 4 of 8: the peak at epoch 1
    assert float(model.optimizer.learning_rate) == pytest.approx(cycle.lrs[-1])


def test_from_range_test_takes_the_picks_and_refuses_a_result_without_a_range():
    from keras_s11.lr_finder import LRRangeResult

    curves = dict(lrs=[1e-3, 1e-2], losses=[2.0, 1.0], smoothed_losses=[2.0, 1.5], accuracies=[None, None])
    result = LRRangeResult(**curves, lr_min=0.01, lr_max=0.3, diverged=False)
    cycle = OneCycle.from_range_test(result, epochs=10, peak_epoch=3, mode="cosine", steps_per_epoch=7)
    assert (cycle.lr_min, cycle.lr_max, cycle.epochs, cycle.peak_epoch) == (0.01, 0.3, 10, 3)
    assert (cycle.mode, cycle.steps_per_epoch) == ("cosine", 7)
    assert OneCycle.from_range_test({"lr_min": 0.02, "lr_max": 0.2}).lr_at(5) == pytest.approx(0.2)
    no_range = LRRangeResult(**curves, lr_min=1e-3, lr_max=1e-3, diverged=False)  # the loss never fell
    with pytest.raises(ValueError, match=r"no LR range to cycle over.*Received: lr_min=0.001, lr_max=0.001"):
        OneCycle.from_range_test(no_range)
    with pytest.raises(ValueError, match="Argument `result` must be a range-test result.*of type float"):
        OneCycle.from_range_test(0.1)
    with pytest.raises(ValueError, match="peak_epoch"):
        OneCycle.from_range_test(result, epochs=3, peak_epoch=5)
