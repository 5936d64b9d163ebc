"""Layers with a faster TensorFlow path."""

import keras

from keras_s11.versions import keras_version

# Batch renormalisation (`renorm`) came in Keras 3.14; an older layer has no such attribute (nor option).
RENORM_SINCE = (3, 14)


@keras.saving.register_keras_serializable(package="keras_s11")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` through TensorFlow's fused kernel.

    Keras 3 normalises in float32 with separate moment, normalisation and
    cast ops; on CPU under `mixed_bfloat16` the fused kernel makes the
    training step of this network 1.25x faster (`docs/BENCHMARKS.md`). On
    the TensorFlow backend, for channels-last 4-D float16/bfloat16/float32
    inputs without a mask and not synchronised across replicas, this layer
    calls `tf.nn.fused_batch_norm`, which reads bfloat16/float16 activations
    directly. Everywhere else (float64, other backends and layouts) it is
    exactly the Keras layer. Variables, arguments and saved files are the
    Keras layer's.

    One numerical difference: in training the fused kernel updates
    `moving_variance` with the unbiased (Bessel-corrected) batch variance,
    as PyTorch's `BatchNorm2d` does; the batch itself is normalised with the
    biased variance in both.
    """

    def _fused(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and len(inputs.shape) == 4
            and keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16", "float32")
            and self.axis in (3, -1)
            and not (keras_version() >= RENORM_SINCE and self.renorm)
            and not self.synchronized
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones((channels,), "float32")
        beta = self.beta if self.center else tf.zeros((channels,), "float32")
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, is_training=True
            )[:3]
            decay = 1.0 - self.momentum
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * decay)
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * decay)
        else:
            outputs = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=self.moving_mean,
                variance=self.moving_variance,
                epsilon=self.epsilon,
                is_training=False,
            )[0]
        return keras.ops.cast(outputs, self.compute_dtype)
