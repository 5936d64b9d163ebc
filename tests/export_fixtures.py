"""Tiny saved models with non-trivial weights, for the export tests."""

import keras
import numpy as np

from keras_s11.model import build_model


def randomized_model(width=4, seed=0, policy="float32"):
    """A width-`width` ResNet-9 whose every weight is random, BN statistics included.

    Fresh BN layers (mean 0, variance 1, gamma 1, beta 0) would hide a
    mapping that swaps or drops BN statistics; random ones expose it.
    """
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(width=width)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, channels).astype("float32"),  # gamma
                    rng.normal(0, 0.1, channels).astype("float32"),  # beta
                    rng.normal(0, 0.2, channels).astype("float32"),  # moving mean
                    rng.uniform(0.5, 2.0, channels).astype("float32"),  # moving variance
                ]
            )
        elif layer.weights:  # kernels with He-scaled variance, so activations and probabilities stay moderate
            kernel, *bias = layer.get_weights()
            std = np.sqrt(2 / np.prod(kernel.shape[:-1]))
            layer.set_weights(
                [rng.normal(0, std, kernel.shape).astype("float32")]
                + [rng.normal(0, 0.1, b.shape).astype("float32") for b in bias]
            )
    return model


def save_randomized_model(path, **kwargs):
    """Saves `randomized_model(**kwargs)` as a `.keras` file and returns it."""
    model = randomized_model(**kwargs)
    model.save(path)
    return model
