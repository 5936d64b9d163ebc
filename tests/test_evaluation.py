import keras
import numpy as np
import pytest

from keras_s11.evaluation import (
    accuracy,
    classwise_accuracy,
    confusion_matrix,
    flip_averaged,
    format_classwise_accuracy,
    predict_probabilities,
    spread_sample,
)
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
    both = flip_averaged(model, images, plain, batch_size=2)
    np.testing.assert_allclose(both, (plain + flipped) / 2, rtol=1e-6)
    assert not np.allclose(plain, flipped)


def test_confusion_matrix_and_classwise_accuracy_by_hand():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    predicted = [0, 1, 0, 1, 1, 0, 2, 1, 2]
    confusion = confusion_matrix(labels, predicted, num_classes=4)
    np.testing.assert_array_equal(confusion, [[2, 1, 0, 0], [0, 2, 0, 0], [1, 1, 2, 0], [0, 0, 0, 0]])
    per_class = classwise_accuracy(confusion)
    np.testing.assert_allclose(per_class[:3], [2 / 3, 1.0, 0.5])
    assert np.isnan(per_class[3])  # no image of class 3


def test_confusion_matrix_refuses_out_of_range_classes():
    with pytest.raises(ValueError, match="predicted"):
        confusion_matrix([0, 1], [0, 3], num_classes=3)
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix([0, 1], [0], num_classes=3)


def test_classwise_table_reads_like_the_original():
    table = format_classwise_accuracy([0.92, 0.4, float("nan")], ["plane", "automobile", "cat"])
    assert table.splitlines() == [
        "Accuracy of plane      : 92 %",
        "Accuracy of automobile : 40 %",
        "Accuracy of cat        : n/a",
    ]


def test_spread_sample_is_evenly_spaced_and_keeps_order():
    np.testing.assert_array_equal(spread_sample(np.arange(10, 20), 4), [10, 13, 16, 19])
    np.testing.assert_array_equal(spread_sample([5, 7], 4), [5, 7])


def test_translate_shifts_with_reflected_borders():
    from keras_s11.evaluation import translate

    images = np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
    down_right = translate(images, 1, 1)
    np.testing.assert_array_equal(down_right[:, 1:, 1:], images[:, :-1, :-1])
    np.testing.assert_array_equal(down_right[:, 0, 1:], images[:, 1, :-1])  # row -1 reflects row 1
    up_left = translate(images, -1, -1)
    np.testing.assert_array_equal(up_left[:, :-1, :-1], images[:, 1:, 1:])
    np.testing.assert_array_equal(translate(images, 0, 0), images)


def test_multicrop_tta_averages_exactly_the_six_views_it_names():
    from keras_s11.evaluation import flip_averaged, multicrop_averaged, predict_probabilities, translate

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    plain = predict_probabilities(model, images)
    flipped = flip_averaged(model, images, plain)
    views = [images, translate(images, -1, -1), translate(images, 1, 1)]
    each = [predict_probabilities(model, view) for view in views] + [
        predict_probabilities(model, view[:, :, ::-1]) for view in views
    ]
    # Weights: 1/4 for the image and its mirror, 1/8 for each of the four shifted views.
    expected = (each[0] + each[3]) / 4 + (each[1] + each[2] + each[4] + each[5]) / 8
    np.testing.assert_allclose(multicrop_averaged(model, images, flipped), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="shift"):
        multicrop_averaged(model, images, flipped, shift=0)
