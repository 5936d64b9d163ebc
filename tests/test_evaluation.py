import keras
import numpy as np
import pytest

from keras_s11.evaluation import accuracy, predict_probabilities
from tests.conftest import make_images


def test_accuracy_on_constructed_predictions():
    probabilities = np.eye(4)[[0, 1, 2, 3, 0]]
    assert accuracy(probabilities, [0, 1, 2, 0, 1]) == pytest.approx(0.6)


def test_flip_tta_averages_the_two_views():
    # A model that reads one pixel: flipping moves it, so the views differ.
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t[:, 0, 0, :2])(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    images = make_images(5)
    plain = predict_probabilities(model, images, batch_size=2)
    flipped = predict_probabilities(model, images[:, :, ::-1], batch_size=2)
    both = predict_probabilities(model, images, batch_size=2, flip_tta=True)
    np.testing.assert_allclose(both, (plain + flipped) / 2, rtol=1e-6)
    assert not np.allclose(plain, flipped)
