"""`keras_s11.training.train`: the script's run as a library call, TensorBoard logs, its settings."""

import dataclasses
import json
import os

import numpy as np
import pytest

from keras_s11.config import ConfigError, TrainConfig
from keras_s11.training import TrainResult, train
from tests.test_train_script import RUN_FILES

TINY = dict(width=4, precision="float32", verbose=0, batch_size=32, epochs=2, peak_epoch=1, range_test_steps=30)


def event_scalars(folder):
    """tag > [(step, value)] of every TensorBoard event file in `folder`."""
    import tensorflow as tf

    scalars = {}
    for name in sorted(os.listdir(folder)):
        assert name.startswith("events.out.tfevents."), name
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                scalars.setdefault(value.tag, []).append((event.step, number))
    return scalars


def test_train_returns_the_result_and_writes_the_scripts_run_folder(image_folder, tmp_path):
    runs = tmp_path / "runs"
    result = train(data_dir=str(image_folder), out_dir=str(runs), run_name="lib", report=False, **TINY)

    run = runs / "lib"
    assert isinstance(result, TrainResult) and result.run_path == str(run)
    assert os.listdir(runs) == ["lib"]  # complete: no partial folder left
    assert sorted(os.listdir(run)) == [name for name in RUN_FILES if name != "report"]
    assert result.metrics == json.loads((run / "metrics.json").read_text())
    assert result.history == json.loads((run / "history.json").read_text())
    assert len(result.history["loss"]) == 2 and "test_accuracy_flip_tta" in result.metrics
    assert (result.lr_min, result.lr_max) == (result.range_test.lr_min, result.range_test.lr_max)
    assert result.lr_min < result.lr_max and result.report_path is None
    assert result.config == dataclasses.replace(
        TrainConfig(**TINY), data_dir=str(image_folder), out_dir=str(runs), run_name="lib", report=False
    )
    config = json.loads((run / "config.json").read_text())
    assert config["run_name"] == "lib" and config["lr_max_used"] == result.lr_max and config["tensorboard"] is True
    # The model returned is the trained one: it gives the accuracy recorded.
    from keras_s11.data import load_cifar10
    from keras_s11.evaluation import accuracy, predict_probabilities

    _, (x_test, y_test) = load_cifar10(image_folder)
    assert accuracy(predict_probabilities(result.model, x_test), y_test) == pytest.approx(
        result.metrics["test_accuracy"], abs=1e-6
    )

    # TensorBoard: per-epoch metrics and LR, validation, and the range-test curve, step by step.
    logs = run / "tensorboard"
    assert sorted(os.listdir(logs)) == ["lr_range_test", "train", "validation"]
    train_logs, validation_logs = event_scalars(logs / "train"), event_scalars(logs / "validation")
    lrs = json.loads((run / "lrs.json").read_text())
    per_epoch = lrs["steps_per_epoch"]
    assert [step for step, _ in train_logs["epoch_learning_rate"]] == [0, 1]
    np.testing.assert_allclose(  # the LR in use at the end of each epoch
        [value for _, value in train_logs["epoch_learning_rate"]],
        [lrs["lrs"][per_epoch - 1], lrs["lrs"][-1]],
        rtol=1e-5,
    )
    np.testing.assert_allclose([v for _, v in train_logs["epoch_loss"]], result.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(
        [v for _, v in validation_logs["epoch_accuracy"]], result.history["val_accuracy"], rtol=1e-5
    )
    curve = event_scalars(logs / "lr_range_test")
    assert [step for step, _ in curve["range_test/loss"]] == list(range(30))
    np.testing.assert_allclose([v for _, v in curve["range_test/loss"]], result.range_test.losses, rtol=1e-6)
    np.testing.assert_allclose([v for _, v in curve["range_test/learning_rate"]], result.range_test.lrs, rtol=1e-6)
    test = result.range_test
    np.testing.assert_allclose([v for _, v in curve["range_test/smoothed_loss"]], test.smoothed_losses, rtol=1e-6)
    assert curve["range_test/lr_max"] == [(0, pytest.approx(result.lr_max, rel=1e-6))]


def test_no_tensorboard_writes_no_logs_and_given_lrs_skip_the_range_test(image_folder, tmp_path):
    config = TrainConfig(data_dir=str(image_folder), out_dir=str(tmp_path / "runs"), run_name="quiet", **TINY)
    result = train(config, tensorboard=False, report=False, tta=False, lr_min=0.01, lr_max=0.1)
    assert result.range_test is None and (result.lr_min, result.lr_max) == (0.01, 0.1)
    assert "tensorboard" not in os.listdir(result.run_path) and "lr_range_test.json" not in os.listdir(result.run_path)
    assert "test_accuracy_flip_tta" not in result.metrics


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            dict(peak_epoch=24, epochs=24),
            "Argument `peak_epoch` must be < `epochs`. Received: peak_epoch=24, epochs=24",
        ),
        (dict(weight_decay=float("nan")), "`weight_decay` must be a finite number. Received: weight_decay=nan"),
        (dict(momentum=float("inf")), "`momentum` must be a finite number"),
        (dict(label_smoothing=float("nan")), "`label_smoothing` must be a finite number"),
        (dict(ema_momentum=1.0), "`ema_momentum` must be in [0, 1). Received: ema_momentum=1.0"),
        (dict(lr_max=float("nan")), "`lr_max` must be a finite number > 0"),
        (dict(lookahead=(2.5, 0.5)), "`lookahead` needs STEPS an integer >= 1 and 0 < FRACTION <= 1"),
        (dict(lookahead=(5, 0.0)), "`lookahead` needs STEPS an integer >= 1 and 0 < FRACTION <= 1"),
        (dict(flip="sometimes"), "`flip` must be one of ('random', 'alternating')"),
        (dict(seed=2**32), "`seed` must be an integer in [0, 4294967295]"),
        (dict(seed=-1), "`seed` must be an integer in [0, 4294967295]"),
        (dict(epochs=2.5), "`epochs` must be an integer > 0"),
        (dict(tta="no"), "`tta` must be True or False"),
        (dict(run_name="a/b"), "`run_name` must be a plain folder name"),
        (dict(schedule="triangle"), "`schedule` must be one of ('linear', 'cosine')"),
        (dict(residual_init="he"), "`residual_init` must be one of ('same', 'dirac')"),
        (dict(logit_scale=0.0), "`logit_scale` must be a finite number > 0. Received: logit_scale=0.0"),
        (dict(limit_train=100), "`limit_train` (100) must be >= `batch_size` (512)"),
    ],
)
def test_settings_are_checked_and_named(settings, message):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**settings)
    assert message in str(info.value)


def test_a_named_recipe_gives_its_settings_and_settings_given_as_well_win():
    default, fast = TrainConfig(), TrainConfig(recipe="fast")
    assert (default.recipe, default.epochs, default.peak_epoch, default.prep_init) == ("default", 24, 5.0, "same")
    assert (fast.recipe, fast.epochs, fast.peak_epoch, fast.prep_init) == ("fast", 12, 2.5, "whiten")
    shorter = TrainConfig(recipe="fast", epochs=10, prep_init="same")
    assert (shorter.epochs, shorter.peak_epoch, shorter.prep_init) == (10, 2.5, "same")
    assert dataclasses.replace(fast, seed=1).epochs == 12
    with pytest.raises(ConfigError, match="`recipe` must be one of \\('default', 'fast'\\). Received: recipe='quick'"):
        TrainConfig(recipe="quick")
    with pytest.raises(ConfigError, match="`peak_epoch` must be < `epochs`"):
        TrainConfig(recipe="fast", epochs=2)


def test_model_settings_reach_the_compiled_model():
    from keras_s11.training import _compiled_model

    config = TrainConfig(width=4, weight_decay=0.1, logit_scale=0.5)
    model = _compiled_model(config, jit_compile=False)
    assert model.get_layer("logit_scale").scale == 0.5
    assert model.get_layer("prep_conv").kernel_regularizer.l2 == pytest.approx(0.05)
    assert model.get_layer("fc").kernel_regularizer.l2 == pytest.approx(0.05)
    assert model.get_layer("fc").bias_regularizer is None and model.get_layer("prep_bn").gamma_regularizer is None


def test_train_checks_before_any_work(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match="already exists; choose another `run_name`"):
        train(out_dir=str(tmp_path), run_name="taken", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(TypeError, match="epoch"):
        train(epoch=3)
    with pytest.raises(ConfigError, match="`peak_epoch` must be < `epochs`"):
        train(TrainConfig(epochs=10), peak_epoch=10)
    with pytest.raises(ConfigError, match="give `recipe` without a `config`"):  # it would keep the config's 24 epochs
        train(TrainConfig(), recipe="fast")
    assert os.listdir(tmp_path) == ["taken"]


def test_the_weight_average_is_what_evaluation_and_the_saved_model_use(image_folder, tmp_path):
    import keras

    from keras_s11.data import load_cifar10
    from keras_s11.evaluation import accuracy, predict_probabilities
    from keras_s11.saving import load_model

    class RecordWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps = []

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(self.model.get_weights())

    record = RecordWeights()
    settings = dict(TINY, lr_min=0.01, lr_max=0.1, tensorboard=False, report=False)
    result = train(
        data_dir=str(image_folder),
        out_dir=str(tmp_path),
        run_name="ema",
        ema_momentum=0.5,
        callbacks=[record],
        **settings,
    )
    assert len(record.steps) == 2 * 3  # 120 images, batch 32: 3 steps an epoch
    # Keras's use_ema: the first step's weights, then average = 0.5 * average + 0.5 * weights.
    expected = record.steps[0]
    for weights in record.steps[1:]:
        expected = [0.5 * a + 0.5 * w for a, w in zip(expected, weights)]
    last = record.steps[-1]
    model = result.model
    trainable = {id(w) for w in model.trainable_weights}
    for variable, average, last_step in zip(model.weights, expected, last, strict=True):
        if id(variable) in trainable:
            np.testing.assert_allclose(variable.numpy(), average, rtol=1e-5, atol=1e-7)
            assert not np.allclose(average, last_step)
    # BatchNormalization moving statistics: recomputed for the average on the first 40 training batches.
    from keras_s11.batchnorm import recalibrate_batchnorm
    from keras_s11.data import make_train_input
    from keras_s11.model import build_model

    expected_model = build_model(width=4)
    expected_model.set_weights([a if id(v) in trainable else w for v, a, w in zip(model.weights, expected, last)])
    (x_train, y_train), _ = load_cifar10(image_folder)
    assert recalibrate_batchnorm(expected_model, make_train_input(x_train, y_train, 32, seed=0)) == 40
    for variable, recalibrated, last_step in zip(model.weights, expected_model.get_weights(), last):
        if id(variable) not in trainable:
            np.testing.assert_allclose(variable.numpy(), recalibrated, rtol=1e-5, atol=1e-6)
            assert not np.allclose(recalibrated, last_step)
    saved = load_model(os.path.join(result.run_path, "model.keras"), compile=False)
    for a, b in zip(saved.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The metrics are the average's; the last step's weights are kept beside them.
    metrics = result.metrics
    _, (x_test, y_test) = load_cifar10(image_folder)
    assert metrics["test_accuracy"] == pytest.approx(accuracy(predict_probabilities(saved, x_test), y_test), abs=1e-6)
    assert metrics["test_accuracy_last_step_weights"] == result.history["val_accuracy"][-1]
    assert metrics["test_loss_last_step_weights"] == result.history["val_loss"][-1]
    assert metrics["test_loss"] != pytest.approx(metrics["test_loss_last_step_weights"], rel=1e-6)


def test_the_choices_config_repeats_are_the_librarys():
    # config.py imports no Keras or TensorFlow, so it repeats these tuples; they must not drift apart.
    from keras_s11 import config
    from keras_s11.data import checks

    assert config.FLIPS == checks.FLIPS
