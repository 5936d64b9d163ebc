"""Tiny models and data sets for callback tests."""

import keras
import numpy as np
import tensorflow as tf


def tiny_model(lr=0.1, momentum=0.0, nesterov=False, seed=0, batchnorm=False):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    if batchnorm:
        x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(lr, momentum=momentum, nesterov=nesterov),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def tiny_dataset(batches=6, batch_size=8, seed=0):
    """Batches with very different losses (inputs scaled by batch index)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batches * batch_size, 4)).astype("float32")
    x *= np.repeat(np.arange(1, batches + 1), batch_size)[:, None].astype("float32")
    y = rng.integers(0, 3, size=batches * batch_size)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size), x, y
