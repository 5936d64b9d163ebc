"""Weight initialisers of the network beyond Keras's own."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_s11")
class Dirac(keras.initializers.Initializer):
    """Identity kernels for a convolution with "same" padding (PyTorch's `dirac_`).

    Output channel `i` copies input channel `i` (a 1 at the kernel's centre)
    for `i < min(in_channels, out_channels)`; the other output channels are
    drawn from `fill` (zeros by default). With as many outputs as inputs the
    convolution returns its input.

    Args:
        fill: Initialiser of the output channels past the identity, or `None`
            for zeros.

    Example:

    >>> conv = keras.layers.Conv2D(64, 3, padding="same", use_bias=False, kernel_initializer=Dirac())
    """

    def __init__(self, fill=None):
        self.fill = None if fill is None else keras.initializers.get(fill)

    def __call__(self, shape, dtype=None):
        *window, in_channels, out_channels = shape
        if len(window) != 2:
            raise ValueError(f"Dirac initialises 2D convolution kernels (4 dimensions). Received: shape={shape}")
        identity = np.zeros(shape, dtype="float32")
        channels = np.arange(min(in_channels, out_channels))
        identity[window[0] // 2, window[1] // 2, channels, channels] = 1.0
        kernel = keras.ops.convert_to_tensor(identity, dtype=dtype)
        if self.fill is None or out_channels <= in_channels:
            return kernel
        rest = self.fill(shape, dtype=dtype)
        return keras.ops.concatenate([kernel[..., :in_channels], rest[..., in_channels:]], axis=-1)

    def get_config(self):
        return {"fill": None if self.fill is None else keras.initializers.serialize(self.fill)}
