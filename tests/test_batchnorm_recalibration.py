"""`recalibrate_batchnorm`: the moving statistics recomputed, the weights untouched."""

import keras
import numpy as np
import pytest

from keras_s11.batchnorm import recalibrate_batchnorm


def one_batchnorm_model():
    inputs = keras.Input((2,))
    outputs = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(inputs)
    return keras.Model(inputs, outputs)


def test_moving_statistics_follow_the_batches_and_nothing_else_changes():
    model = one_batchnorm_model()
    layer = model.layers[-1]
    layer.gamma.assign([2.0, 3.0])
    layer.beta.assign([0.5, -0.5])
    # Each batch: column 0 holds 1 and 3 (mean 2, variance 1), column 1 holds -2 and 6 (mean 2, variance 16).
    batch = np.array([[1.0, -2.0], [3.0, 6.0]], dtype="float32")
    batches = [(batch, np.zeros(2))] * 10

    assert recalibrate_batchnorm(model, batches, steps=3) == 3
    kept = 0.9**3  # of the initial statistics (mean 0, variance 1)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [(1 - kept) * 2, (1 - kept) * 2], rtol=1e-6)
    np.testing.assert_allclose(
        layer.moving_variance.numpy(), [kept + (1 - kept) * 1, kept + (1 - kept) * 16], rtol=1e-6
    )
    np.testing.assert_array_equal(layer.gamma.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(layer.beta.numpy(), [0.5, -0.5])


def test_an_input_is_read_pass_after_pass_until_used_up_and_steps_are_checked():
    model = one_batchnorm_model()
    batch = np.ones((4, 2), dtype="float32")
    assert recalibrate_batchnorm(model, iter([(batch, None)] * 2), steps=40) == 2  # used up after a pass
    assert recalibrate_batchnorm(model, [(batch, None)] * 2, steps=5) == 5  # a list is read pass after pass
    for steps in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=r"Argument `steps` must be an integer > 0. Received: steps="):
            recalibrate_batchnorm(model, [(batch, None)], steps=steps)
