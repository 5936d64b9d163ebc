"""Batched augmentation layers on `keras.ops`: pad-crop, flip, cutout.

Each layer draws one random value per image and transforms the whole batch
with vectorised ops, so it runs inside `tf.data` and, unchanged, on an
accelerator or another Keras backend.
"""

import keras
from keras import ops


def _positions(batch_size, low, high, generator):
    """Per-image integers uniform in [low, high], shape (batch_size,)."""
    draw = keras.random.uniform((batch_size,), 0.0, 1.0, seed=generator)
    return ops.cast(ops.floor(draw * (high - low + 1)), "int32") + low


class RandomPadCrop(keras.layers.Layer):
    """Pads each image by `padding` pixels and crops it back at a random offset.

    Unlike `keras.layers.RandomCrop`, every image of the batch gets its own
    offset.

    Args:
        padding: Pixels added on each side before cropping.
        mode: Padding mode, `"reflect"` (as in Page's recipe) or `"constant"`.
        seed: Integer seed for reproducible offsets.
    """

    def __init__(self, padding=4, mode="reflect", seed=None, **kwargs):
        super().__init__(**kwargs)
        if padding < 0:
            raise ValueError(f"Argument `padding` must be >= 0. Received: padding={padding}")
        if mode not in ("reflect", "constant"):
            raise ValueError(f"Argument `mode` must be 'reflect' or 'constant'. Received: mode={mode!r}")
        self.padding = padding
        self.mode = mode
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, offsets=None):
        """Crops `images`; `offsets` (int32 `(batch, 2)`, `(dy, dx)` in
        `[0, 2 * padding]`) are drawn from the layer's seed when `None`."""
        p = self.padding
        if p == 0:
            return images
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        padded = ops.pad(images, ((0, 0), (p, p), (p, p), (0, 0)), mode=self.mode)
        padded_height, padded_width = height + 2 * p, width + 2 * p
        if offsets is None:
            dy = _positions(batch, 0, 2 * p, self.generator)
            dx = _positions(batch, 0, 2 * p, self.generator)
        else:
            dy, dx = offsets[:, 0], offsets[:, 1]
        # One gather of whole pixels: the flat index of every output pixel.
        rows = dy[:, None] + ops.arange(height, dtype="int32")[None, :]
        cols = dx[:, None] + ops.arange(width, dtype="int32")[None, :]
        first = ops.arange(batch, dtype="int32") * (padded_height * padded_width)
        index = first[:, None, None] + rows[:, :, None] * padded_width + cols[:, None, :]
        pixels = ops.reshape(padded, (-1, shape[3]))
        return ops.take(pixels, index, axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "mode": self.mode, "seed": self.seed}


class RandomHorizontalFlip(keras.layers.Layer):
    """Flips each image left-right with probability `rate`.

    Args:
        rate: Probability of flipping an image.
        seed: Integer seed for reproducible flips.
    """

    def __init__(self, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Argument `rate` must be in [0, 1]. Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, flip=None):
        """Flips `images`; `flip` (bool `(batch,)`) is drawn from the layer's seed when `None`."""
        if flip is None:
            flip = keras.random.uniform((ops.shape(images)[0],), seed=self.generator) < self.rate
        return ops.where(flip[:, None, None, None], ops.flip(images, axis=2), images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Cutout(keras.layers.Layer):
    """Fills a `size` x `size` square at a random centre of each image.

    The centre is uniform over the image; the square is clipped at the border
    (DeVries & Taylor, 2017), so it covers `size**2` pixels when it fits.

    Args:
        size: Side of the square in pixels.
        fill_value: Value (scalar or per-channel sequence) written into it.
        seed: Integer seed for reproducible squares.
    """

    def __init__(self, size=8, fill_value=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if size < 0:
            raise ValueError(f"Argument `size` must be >= 0. Received: size={size}")
        self.size = size
        self.fill_value = fill_value
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, centres=None):
        """Cuts the squares; `centres` (int32 `(batch, 2)`, `(cy, cx)` inside the
        image) are drawn from the layer's seed when `None`."""
        if self.size == 0:
            return images
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        if centres is None:
            cy = _positions(batch, 0, height - 1, self.generator)
            cx = _positions(batch, 0, width - 1, self.generator)
        else:
            cy, cx = centres[:, 0], centres[:, 1]
        top, left = cy - self.size // 2, cx - self.size // 2
        r = ops.arange(height, dtype="int32")[None, :]
        c = ops.arange(width, dtype="int32")[None, :]
        in_rows = (r >= top[:, None]) & (r < top[:, None] + self.size)
        in_cols = (c >= left[:, None]) & (c < left[:, None] + self.size)
        mask = in_rows[:, :, None, None] & in_cols[:, None, :, None]
        fill = ops.cast(ops.convert_to_tensor(self.fill_value), images.dtype)
        return ops.where(mask, fill, images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        fill = self.fill_value
        fill = list(fill) if isinstance(fill, (tuple, list)) else fill
        return {**super().get_config(), "size": self.size, "fill_value": fill, "seed": self.seed}
