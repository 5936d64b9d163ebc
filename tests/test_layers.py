import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_s11.layers import FusedBatchNormalization


def _pair(dtype="float32", **kwargs):
    stock = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=dtype, **kwargs)
    fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5, dtype=dtype, **kwargs)
    return stock, fused


def _inputs(shape=(8, 4, 4, 6), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * 3 + 1).astype("float32")


def _set_affine(*layers_):
    for layer in layers_:
        layer.gamma.assign(np.linspace(0.5, 2.0, layer.gamma.shape[0]).astype("float32"))
        layer.beta.assign(np.linspace(-1.0, 1.0, layer.beta.shape[0]).astype("float32"))


def test_training_output_and_gradients_match_keras():
    x = tf.constant(_inputs())
    stock, fused = _pair()
    stock.build(x.shape), fused.build(x.shape)
    _set_affine(stock, fused)
    weights = tf.constant(_inputs(seed=2))  # a non-degenerate loss: sum(y * weights)
    results = []
    for layer in (stock, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * weights)
        results.append((y, *tape.gradient(loss, [x, layer.gamma, layer.beta])))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)


def test_moving_statistics_follow_pytorch():
    x = _inputs()
    stock, fused = _pair()
    stock(x, training=True), fused(x, training=True)
    flat = x.reshape(-1, 6).astype("float64")
    np.testing.assert_allclose(fused.moving_mean.numpy(), 0.1 * flat.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stock.moving_mean.numpy(), fused.moving_mean.numpy(), atol=1e-6)
    # Unbiased batch variance, as torch.nn.BatchNorm2d keeps in running_var.
    np.testing.assert_allclose(fused.moving_variance.numpy(), 0.9 + 0.1 * flat.var(0, ddof=1), rtol=1e-5)


def test_inference_matches_keras_with_the_same_statistics():
    x = _inputs(seed=1)
    stock, fused = _pair()
    stock.build(x.shape), fused.build(x.shape)
    _set_affine(stock, fused)
    for layer in (stock, fused):
        layer.moving_mean.assign(np.arange(6, dtype="float32") / 10)
        layer.moving_variance.assign(np.arange(1, 7, dtype="float32"))
    np.testing.assert_allclose(fused(x, training=False), stock(x, training=False), atol=1e-5)


def test_mixed_bfloat16_reads_and_returns_bfloat16():
    x = _inputs()
    stock, fused = _pair("mixed_bfloat16")
    y_stock, y_fused = stock(x, training=True), fused(x, training=True)
    assert y_fused.dtype == tf.bfloat16
    assert fused.moving_mean.dtype == "float32"
    # bfloat16 has 8 bits of mantissa: outputs of size ~3 agree to ~2^-6.
    np.testing.assert_allclose(np.float32(y_fused), np.float32(y_stock), atol=0.07)


@pytest.mark.parametrize("kwargs, shape", [({"axis": 1}, (4, 6, 3, 3)), ({}, (8, 6))])
def test_other_layouts_fall_back_to_keras_exactly(kwargs, shape):
    x = _inputs(shape)
    stock, fused = _pair(**kwargs)
    np.testing.assert_array_equal(fused(x, training=True), stock(x, training=True))
    np.testing.assert_array_equal(fused.moving_variance.numpy(), stock.moving_variance.numpy())


def test_saved_model_reloads_as_fused(tmp_path):
    inputs = keras.Input((4, 4, 6))
    model = keras.Model(inputs, FusedBatchNormalization(name="bn")(inputs))
    model.get_layer("bn").moving_mean.assign(np.full(6, 0.5, "float32"))
    model.save(tmp_path / "bn.keras")
    loaded = keras.saving.load_model(tmp_path / "bn.keras")
    assert isinstance(loaded.get_layer("bn"), FusedBatchNormalization)
    np.testing.assert_array_equal(loaded.get_layer("bn").moving_mean.numpy(), np.full(6, 0.5, "float32"))


def test_float64_falls_back_to_keras_exactly():
    x = _inputs().astype("float64")
    stock, fused = _pair("float64")
    np.testing.assert_array_equal(fused(x, training=True), stock(x, training=True))
