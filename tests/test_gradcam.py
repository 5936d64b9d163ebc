import re

import keras
import numpy as np
import pytest

from keras_s11.gradcam import LayerNameError, check_layer_names, gradcam_heatmaps, spatial_layer_names
from keras_s11.model import build_model
from tests.conftest import make_images


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model(width=4)


def test_heatmaps_have_the_image_shape_lie_in_0_1_and_depend_on_the_class(model):
    images = make_images(6)
    predicted = np.argmax(model.predict(images.astype("float32"), verbose=0), axis=1)
    actual = (predicted + 1) % 10  # every example misclassified
    by_prediction = gradcam_heatmaps(model, images, predicted)
    by_truth = gradcam_heatmaps(model, images, actual)
    assert list(by_prediction) == ["layer1", "layer2", "layer3"]
    for name in by_prediction:
        for heatmaps in (by_prediction[name], by_truth[name]):
            assert heatmaps.shape == (6, 32, 32) and heatmaps.dtype == np.float32
            assert heatmaps.min() >= 0 and heatmaps.max() <= 1
            assert heatmaps.max() > 0.9  # scaled per image, not all zero
        assert not np.allclose(by_prediction[name][0], by_truth[name][0], atol=1e-3)


def test_batching_does_not_change_the_heatmaps(model):
    images, classes = make_images(5, seed=1), np.arange(5)
    whole = gradcam_heatmaps(model, images, classes, ["layer2"], batch_size=32)
    in_pairs = gradcam_heatmaps(model, images, classes, ["layer2"], batch_size=2)
    np.testing.assert_allclose(whole["layer2"], in_pairs["layer2"], atol=1e-5)


def test_mixed_precision_model_gives_the_float32_heatmaps():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    mixed = build_model(width=4)
    keras.mixed_precision.set_global_policy("float32")
    reference = build_model(width=4)
    reference.set_weights(mixed.get_weights())
    images, classes = make_images(3, seed=2), [1, 2, 3]
    np.testing.assert_allclose(
        gradcam_heatmaps(mixed, images, classes, ["layer3"])["layer3"],
        gradcam_heatmaps(reference, images, classes, ["layer3"])["layer3"],
        atol=1e-5,
    )


def test_unknown_layer_is_named_and_the_valid_ones_listed(model):
    assert {"layer1", "layer2", "layer3", "prep_conv"} <= set(spatial_layer_names(model))
    assert "fc" not in spatial_layer_names(model) and "image" not in spatial_layer_names(model)
    with pytest.raises(LayerNameError) as info:
        check_layer_names(model, ["layer1", "layer9"])
    message = str(info.value)
    assert "'layer9'" in message and "layer1, " in message and "layer3" in message and "\n" not in message
    with pytest.raises(LayerNameError, match="valid layer names"):
        gradcam_heatmaps(model, make_images(1), [0], ["fc"])


def test_normalised_float_images_are_refused_with_what_is_wanted(model):
    from keras_s11.data import normalize

    images = make_images(2)
    for wrong in (normalize(images), images.astype("float32") / 255):
        with pytest.raises(ValueError) as info:
            gradcam_heatmaps(model, wrong, [0, 1])
        message = str(info.value)
        assert "uint8 pixels 0..255 of shape (N, 32, 32, 3)" in message and "dtype=float32" in message
        assert "not normalised or rescaled floats" in message and "\n" not in message
    with pytest.raises(ValueError, match=r"values in \[0, 255\]"):
        gradcam_heatmaps(model, images.astype("int64"), [0, 1])


@pytest.mark.parametrize("shape", [(2, 28, 28, 3), (2, 32, 32), (32, 32, 3)])
def test_images_of_another_shape_are_refused(model, shape):
    images = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match=r"of shape \(N, 32, 32, 3\).*Received: shape=" + re.escape(str(shape))):
        gradcam_heatmaps(model, images, [0, 1])


def test_class_indices_must_fit_the_images_and_the_model(model):
    images = make_images(2)
    with pytest.raises(ValueError, match=r"shape \(2,\)\. Received: dtype=int64, shape=\(3,\)"):
        gradcam_heatmaps(model, images, [0, 1, 2])
    with pytest.raises(ValueError, match=r"in \[0, 10\)\. Received: values in \[3, 10\]"):
        gradcam_heatmaps(model, images, [3, 10])
    with pytest.raises(ValueError, match="one integer class per image"):
        gradcam_heatmaps(model, images, [0.0, 1.0])
