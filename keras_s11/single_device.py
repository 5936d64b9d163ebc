"""The one-device stand-in for a `tf.distribute` strategy on Keras's JAX and PyTorch backends."""

import contextlib


class SingleDeviceStrategy:
    """What the training flow asks of a strategy, for one device without TensorFlow.

    `scope()` does nothing and there is one replica: the model trains on the
    backend's default device (the GPU when JAX or PyTorch sees one).
    `keras_s11.distribute.make_strategy` returns it for `"auto"` and
    `"default"` on backends other than TensorFlow.
    """

    num_replicas_in_sync = 1

    def scope(self):
        """A context that changes nothing."""
        return contextlib.nullcontext()

    def __repr__(self):
        return "SingleDeviceStrategy()"
