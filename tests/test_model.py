import keras
import numpy as np
import pytest

from keras_s11.model import build_model


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_full_width_parameter_counts_match_the_spec():
    model = build_model()
    assert count(model.trainable_weights) == 6_573_130
    assert count(model.non_trainable_weights) == 4_480
    assert model.output_shape == (None, 10)


def test_convolutions_have_no_bias_and_named_stages_exist():
    model = build_model(width=8)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 8
    assert all(not conv.use_bias for conv in convs)
    names = {layer.name for layer in model.layers}
    assert {"prep_relu", "layer1", "layer1_res_relu2", "layer2", "layer3", "layer3_res_relu2", "fc"} <= names
    assert model.get_layer("layer1").output.shape[1:] == (16, 16, 16)
    assert model.get_layer("layer3").output.shape[1:] == (4, 4, 64)


def test_outputs_are_float32_probabilities_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(width=8)
    probabilities = model(np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32"))
    assert model.get_layer("fc").compute_dtype == "bfloat16"
    assert probabilities.dtype == "float32"
    np.testing.assert_allclose(np.sum(np.asarray(probabilities), axis=1), 1.0, atol=1e-6)


def test_weight_decay_adds_half_the_coupled_l2_penalty():
    model = build_model(width=8, weight_decay=0.1)
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    expected = 0.05 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    model(np.zeros((1, 32, 32, 3), "float32"))
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert not build_model(width=8, weight_decay=0).losses


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 0}, "width"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"weight_decay": -1}, "weight_decay"),
        ({"residual_init": "he"}, "residual_init='he'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(**kwargs)


def test_logit_scale_is_a_parameter_free_layer_that_can_be_removed():
    scaled, plain = build_model(width=4), build_model(width=4, logit_scale=1)
    assert "logit_scale" in [layer.name for layer in scaled.layers]
    assert "logit_scale" not in [layer.name for layer in plain.layers]
    assert scaled.count_params() == plain.count_params()


def test_batchnorm_choice_keeps_names_and_weights():
    from keras_s11.layers import FusedBatchNormalization

    fused, plain = build_model(width=4), build_model(width=4, fused_batchnorm=False)
    assert isinstance(fused.get_layer("layer1_bn"), FusedBatchNormalization)
    assert type(plain.get_layer("layer1_bn")) is keras.layers.BatchNormalization
    assert [w.path for w in fused.weights] == [w.path for w in plain.weights]


def test_torch_init_is_uniform_within_one_over_sqrt_fan_in():
    keras.utils.set_random_seed(0)
    model = build_model(width=8)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel = layer.kernel.numpy()
            limit = np.prod(kernel.shape[:-1]) ** -0.5  # fan_in: everything but the output axis
            assert np.abs(kernel).max() <= limit
            assert np.abs(kernel).max() > 0.9 * limit  # spread over the whole range, not Glorot's
            assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.15)
    bias = model.get_layer("fc").bias.numpy()
    assert np.abs(bias).max() <= 64**-0.5 and np.any(bias != 0)


def test_a_dirac_initialised_convolution_returns_its_input():
    from keras_s11.initializers import Dirac

    conv = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, kernel_initializer=Dirac())
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 6)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(conv(x)), x, atol=1e-6)
    # More outputs than inputs: the first ones copy the inputs, the rest come from `fill`.
    wider = Dirac(fill="ones")((3, 3, 2, 4))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(wider)[..., 2:], np.ones((3, 3, 2, 2)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(wider)[1, 1, :, :2], np.eye(2))
    assert Dirac.from_config(Dirac(fill="ones").get_config()).fill is not None


def test_residual_init_dirac_makes_the_residual_kernels_identities_and_reloads(tmp_path):
    model = build_model(width=2, residual_init="dirac")
    for name in ("layer1_res_conv1", "layer1_res_conv2", "layer3_res_conv1", "layer3_res_conv2"):
        kernel = model.get_layer(name).kernel.numpy()
        channels = kernel.shape[-1]
        expected = np.zeros_like(kernel)
        expected[1, 1, np.arange(channels), np.arange(channels)] = 1
        np.testing.assert_array_equal(kernel, expected)
    assert not np.any(model.get_layer("layer1_conv").kernel.numpy() == 0)  # the others: torch init
    path = tmp_path / "dirac.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    for a, b in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="residual_init"):
        build_model(width=2, residual_init="identity")


def test_patch_whitening_gives_identity_covariance_on_the_training_patches():
    from keras_s11.data import normalize_array
    from keras_s11.whitening import apply_patch_whitening, patch_second_moment, patches_of, whitening_kernel

    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    images[..., 1] = images[..., 0] // 2 + images[..., 1] // 2  # correlated channels
    patches = patches_of(normalize_array(images)).astype(np.float64)
    assert patches.shape == (40 * 6 * 6, 27)
    np.testing.assert_allclose(patch_second_moment(images), patches.T @ patches / len(patches))
    start = np.full((3, 3, 3, 60), 7.0, dtype=np.float32)
    kernel = whitening_kernel(patch_second_moment(images), start, epsilon=0.0)
    filters = kernel.reshape(27, 60).astype(np.float64)
    features = patches @ filters[:, :27]
    np.testing.assert_allclose(features.T @ features / len(patches), np.eye(27), atol=2e-4)
    np.testing.assert_array_equal(filters[:, 27:54], -filters[:, :27])
    np.testing.assert_array_equal(kernel[..., 54:], 7.0)  # the filters past the 54 whitening ones are kept
    # On the network: the PrepLayer kernel is set in place.
    model = build_model(width=64)
    assert apply_patch_whitening(model, images) == 54
    expected = whitening_kernel(patch_second_moment(images), np.zeros((3, 3, 3, 64), np.float32))
    np.testing.assert_allclose(model.get_layer("prep_conv").kernel.numpy()[..., :54], expected[..., :54], rtol=1e-6)


def test_the_whitened_kernel_leaves_the_weight_decay_and_the_others_keep_it():
    from keras_s11.whitening import apply_patch_whitening

    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    model = build_model(width=8, weight_decay=5e-4)
    decayed = {v.path for v in model.trainable_weights if v.regularizer is not None}
    apply_patch_whitening(model, images)
    assert decayed - {v.path for v in model.trainable_weights if v.regularizer is not None} == {"prep_conv/kernel"}
    others = sum(float(0.5 * 5e-4 * np.sum(np.square(v.numpy()))) for v in model.trainable_weights if v.regularizer)
    assert float(sum(model.losses)) == pytest.approx(others, rel=1e-5)  # the penalty no longer counts the kernel
    assert model.get_layer("prep_conv").get_config()["kernel_regularizer"] is None
