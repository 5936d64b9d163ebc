"""Per-variable learning-rate multipliers of `VariableMomentumSGD` (airbench's BatchNorm-bias LR scale)."""

import keras
import numpy as np
import pytest

from keras_s11.config import ConfigError, TrainConfig
from keras_s11.model import build_model
from keras_s11.optimizers import VariableMomentumSGD
from keras_s11.training import make_optimizer

GRADIENTS = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 0.75, 1.0]), np.array([1.5, 0.5, -0.5])]
LR, MOMENTUM = 0.1, 0.9


def reference(gradients, factor, nesterov):
    """Keras's momentum SGD on the fixed gradients, in float64, with the LR times `factor`."""
    weights, velocity = np.ones(3), np.zeros(3)
    for gradient in gradients:
        velocity = MOMENTUM * velocity - LR * factor * gradient
        weights = weights + (MOMENTUM * velocity - LR * factor * gradient if nesterov else velocity)
    return weights


@pytest.mark.parametrize("nesterov", [True, False])
def test_the_named_variable_steps_with_the_lr_times_its_factor(nesterov):
    beta = keras.Variable(np.ones(3), dtype="float32", name="beta")
    kernel = keras.Variable(np.ones(3), dtype="float32", name="kernel")
    optimizer = VariableMomentumSGD(LR, momentum=MOMENTUM, nesterov=nesterov, lr_multipliers={"beta": 64.0})
    for gradient in GRADIENTS:
        optimizer.apply([gradient.astype("float32")] * 2, [beta, kernel])
    np.testing.assert_allclose(beta.numpy(), reference(GRADIENTS, 64.0, nesterov), rtol=1e-5)
    np.testing.assert_allclose(kernel.numpy(), reference(GRADIENTS, 1.0, nesterov), rtol=1e-6)
    assert [optimizer.lr_multiplier(v) for v in (beta, kernel)] == [64.0, 1.0]


def test_without_multipliers_it_steps_as_keras_sgd_bit_for_bit():
    ours = keras.Variable(np.ones(3), dtype="float32", name="beta")
    keras_own = keras.Variable(np.ones(3), dtype="float32", name="beta")
    optimizer = VariableMomentumSGD(LR, momentum=MOMENTUM, nesterov=True)
    plain = keras.optimizers.SGD(LR, momentum=MOMENTUM, nesterov=True)
    for gradient in GRADIENTS:
        optimizer.apply([gradient.astype("float32")], [ours])
        plain.apply([gradient.astype("float32")], [keras_own])
    np.testing.assert_array_equal(ours.numpy(), keras_own.numpy())


def test_beta_names_the_batchnorm_offsets_of_the_network_and_nothing_else():
    model = build_model(width=4)
    optimizer = VariableMomentumSGD(LR, momentum=MOMENTUM, lr_multipliers={"beta": 16.0})
    scaled = [v.path for v in model.trainable_variables if optimizer.lr_multiplier(v) == 16.0]
    batchnorms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert sorted(scaled) == sorted(layer.beta.path for layer in batchnorms)
    assert len(scaled) == 8


def test_the_multipliers_survive_get_config():
    optimizer = VariableMomentumSGD(LR, momentum=MOMENTUM, lr_multipliers={"beta": 64})
    restored = VariableMomentumSGD.from_config(optimizer.get_config())
    assert restored.lr_multipliers == {"beta": 64.0}


@pytest.mark.parametrize(
    "multipliers, message",
    [
        ({"beta": 0.0}, "factors > 0"),
        ({"beta": float("inf")}, "factors > 0"),
        ({"beta": "64"}, "names to numbers"),
        ({"": 2.0}, "names to numbers"),
        ({"beta": True}, "names to numbers"),
    ],
)
def test_bad_multipliers_are_named(multipliers, message):
    with pytest.raises(ValueError, match=f"Argument `lr_multipliers`.*{message}"):
        VariableMomentumSGD(LR, momentum=MOMENTUM, lr_multipliers=multipliers)


def test_a_variable_two_names_match_is_refused_at_build():
    optimizer = VariableMomentumSGD(LR, momentum=MOMENTUM, lr_multipliers={"bet": 2.0, "beta": 4.0})
    with pytest.raises(ValueError, match="matches more than one name"):
        optimizer.build([keras.Variable(np.ones(3), name="beta")])


def test_the_run_scales_the_batchnorm_offsets_only_when_asked():
    scaled = make_optimizer(TrainConfig(batchnorm_lr_scale=64.0))
    assert isinstance(scaled, VariableMomentumSGD)
    assert scaled.lr_multipliers == {"beta": 64.0}
    assert (scaled.momentum, scaled.nesterov) == (0.9, True)
    assert type(make_optimizer(TrainConfig())) is keras.optimizers.SGD  # the default path is Keras's own SGD


@pytest.mark.parametrize("scale", [0.0, -2.0, float("nan")])
def test_a_bad_batchnorm_lr_scale_is_named(scale):
    with pytest.raises(ConfigError, match="`batchnorm_lr_scale` must be a finite number > 0"):
        TrainConfig(batchnorm_lr_scale=scale)


def test_a_batchnorm_lr_scale_without_momentum_is_named_before_the_run():
    with pytest.raises(ConfigError, match="`batchnorm_lr_scale` needs `momentum` > 0"):
        TrainConfig(batchnorm_lr_scale=64.0, momentum=0.0)
    assert TrainConfig(batchnorm_lr_scale=1.0, momentum=0.0).momentum == 0.0  # plain SGD stays allowed
