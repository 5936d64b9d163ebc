"""Lookahead: slow weights that move a fraction of the way to the fast ones every few steps."""

import keras
import numpy as np
import pytest

from keras_s11.callbacks import Lookahead

X = np.array([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.25], [2.0, 1.0]], np.float32)
Y = np.array([[1.0], [0.0], [-1.0], [2.0]], np.float32)
W0 = np.array([[0.3], [-0.2]], np.float32)
LR = 0.05


def linear_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[-1].kernel.assign(W0)
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    return model


def sgd_step(w):
    """One plain SGD step of the mean squared error on (X, Y), in float64."""
    w = w.astype(np.float64)
    return w - LR * 2 / len(X) * X.T.astype(np.float64) @ (X @ w - Y)


def fit_steps(model, steps, callbacks):
    model.fit(
        np.tile(X, (steps, 1)),
        np.tile(Y, (steps, 1)),
        batch_size=len(X),
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return model.layers[-1].kernel.numpy()


def test_the_slow_weights_follow_the_rule_exactly_on_a_two_step_problem():
    # Two fast steps from W0, then the slow weights move half the way: W0 + 0.5 (w2 - W0).
    w2 = sgd_step(sgd_step(W0))
    expected = W0 + 0.5 * (w2 - W0)
    np.testing.assert_allclose(fit_steps(linear_model(), 2, [Lookahead(2, 0.5)]), expected, rtol=1e-6)


def test_the_last_step_of_an_epoch_syncs_so_the_epoch_ends_with_slow_weights():
    # Three steps, a sync every two: after step 2 the slow weights s; step 3 from s; the epoch's end
    # moves them a quarter of the way to it.
    s = W0 + 0.25 * (sgd_step(sgd_step(W0)) - W0)
    expected = s + 0.25 * (sgd_step(s) - s)
    np.testing.assert_allclose(fit_steps(linear_model(), 3, [Lookahead(2, 0.25)]), expected, rtol=1e-6)


def test_a_full_step_is_plain_training():
    plain = fit_steps(linear_model(), 4, [])
    np.testing.assert_allclose(fit_steps(linear_model(), 4, [Lookahead(3, 1.0)]), plain, rtol=1e-6)
    np.testing.assert_allclose(plain, sgd_step(sgd_step(sgd_step(sgd_step(W0)))), rtol=1e-6)


def test_batchnorm_statistics_are_left_alone():
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(1)(keras.layers.BatchNormalization()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    weights = model.get_weights()
    plain = keras.models.clone_model(model)
    plain.set_weights(weights)
    plain.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    fit_steps(model, 3, [Lookahead(2, 0.5)])
    fit_steps(plain, 3, [])
    bn, bn_plain = model.layers[1], plain.layers[1]
    np.testing.assert_allclose(bn.moving_mean.numpy(), bn_plain.moving_mean.numpy(), rtol=1e-6)
    assert not np.allclose(bn.gamma.numpy(), bn_plain.gamma.numpy(), rtol=1e-9)  # trainable: moved back


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(sync_period=0), "sync_period"),
        (dict(sync_period=2.0), "sync_period"),
        (dict(slow_step=0), "slow_step"),
        (dict(slow_step=1.5), "slow_step"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        Lookahead(**kwargs)


def test_the_training_run_wraps_its_sgd_in_lookahead_when_asked(tmp_path):
    import types

    from keras_s11.config import TrainConfig
    from keras_s11.training_callbacks import make_training_callbacks

    run = types.SimpleNamespace(file=lambda name: str(tmp_path / name))
    config = TrainConfig(lookahead=(5, 0.5), tensorboard=False)
    callbacks = make_training_callbacks(config, run, None, 0.01, 0.1).all
    (lookahead,) = [c for c in callbacks if isinstance(c, Lookahead)]
    assert (lookahead.sync_period, lookahead.slow_step) == (5, 0.5)
    assert callbacks.index(lookahead) < callbacks.index(callbacks[-1])  # before the backup
    plain = make_training_callbacks(TrainConfig(tensorboard=False), run, None, 0.01, 0.1).all
    assert not any(isinstance(c, Lookahead) for c in plain)
