"""The ResNet-9-style network of the assignment, built with the Functional API."""

import keras
from keras import layers

from keras_s11.config import RESIDUAL_INITS
from keras_s11.initializers import Dirac
from keras_s11.layers import FusedBatchNormalization


def _torch_uniform(fan_in=None):
    """PyTorch's default init, uniform in +-1/sqrt(fan_in) (kernels: fan_in read from the shape)."""
    if fan_in is None:
        return keras.initializers.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform")
    limit = fan_in**-0.5
    return keras.initializers.RandomUniform(-limit, limit)


def _conv_bn_relu(
    x,
    filters,
    name,
    suffix="",
    pool=False,
    weight_decay=0.0,
    kernel_initializer=None,
    fused_batchnorm=True,
    sync_batchnorm=False,
):
    """Conv3x3 (no bias) [> MaxPool2] > BN > ReLU.

    The layers are named `{name}_conv{suffix}`, `{name}_pool`,
    `{name}_bn{suffix}` and `{name}_relu{suffix}`.
    """
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    x = layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=regularizer,
        name=f"{name}_conv{suffix}",
    )(x)
    if pool:
        x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    # Momentum 0.9 / epsilon 1e-5 are PyTorch's BatchNorm2d defaults
    # (torch momentum 0.1 == keras momentum 0.9), so exported weights agree.
    batchnorm = FusedBatchNormalization if fused_batchnorm else layers.BatchNormalization
    x = batchnorm(
        momentum=0.9,
        epsilon=1e-5,
        synchronized=sync_batchnorm,
        name=f"{name}_bn{suffix}",
    )(x)
    return layers.ReLU(name=f"{name}_relu{suffix}")(x)


def _residual_block(x, filters, name, **options):
    """X + (Conv-BN-ReLU-Conv-BN-ReLU)(X); the sum is named `name`."""
    r = _conv_bn_relu(x, filters, f"{name}_res", "1", **options)
    r = _conv_bn_relu(r, filters, f"{name}_res", "2", **options)
    return layers.Add(name=name)([x, r])


def build_model(
    num_classes=10,
    width=64,
    input_shape=(32, 32, 3),
    weight_decay=5e-4,
    logit_scale=0.125,
    residual_init="same",
    fused_batchnorm=True,
    sync_batchnorm=False,
    name="resnet9",
):
    """Builds the assignment's ResNet-9-style network.

    PrepLayer (Conv 64) > Layer1 (Conv 128, MaxPool, + residual block) >
    Layer2 (Conv 256, MaxPool) > Layer3 (Conv 512, MaxPool, + residual block) >
    MaxPool(4) > FC > Softmax. Convolutions carry no bias. With `width=64` the
    model has 6,573,130 trainable parameters.

    Args:
        num_classes: Number of output classes.
        width: Channels of the PrepLayer; later layers use 2x, 4x and 8x.
        input_shape: Shape of one (normalised, NHWC) input image.
        weight_decay: Coupled (PyTorch-style) L2 weight decay on the
            convolution and FC kernels, added to the loss as
            `weight_decay / 2 * ||w||^2`. `0` disables it.
        logit_scale: Constant factor applied to the FC output before the
            softmax (0.125 in Page's recipe). It has no parameters.
        residual_init: Initialisation of the residual blocks' four
            convolutions: `"same"` as the others, or `"dirac"`: identity
            kernels (`keras_s11.initializers.Dirac`), so that each residual
            branch starts as ReLU(BN(ReLU(BN(x)))) (airbench's
            initialisation).
        fused_batchnorm: Use `FusedBatchNormalization` (TensorFlow's fused
            kernel; plain Keras on other backends) instead of
            `keras.layers.BatchNormalization`. Same variables; see the layer
            for the one difference (the moving variance is unbiased).
        sync_batchnorm: Whether BatchNorm computes its batch statistics over
            the global batch when training on several replicas (TensorFlow
            backend), as on one device; otherwise each replica uses its own
            share of the batch. Synchronised layers use the Keras code path.
        name: Model name.

    Returns:
        A Functional `keras.Model` mapping images to class probabilities.
        The output stays float32 under a mixed-precision policy.

    Raises:
        ValueError: If `num_classes` or `width` is not a positive integer,
            or `weight_decay` or `residual_init` is out of range.

    Example:

    >>> model = build_model()
    >>> model.count_params()
    6577610
    """
    for arg, value in (("num_classes", num_classes), ("width", width)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Argument `{arg}` must be a positive integer. Received: {arg}={value!r}")
    if weight_decay < 0:
        raise ValueError(f"Argument `weight_decay` must be >= 0. Received: weight_decay={weight_decay}")
    if residual_init not in RESIDUAL_INITS:
        raise ValueError(
            f"Argument `residual_init` must be one of {RESIDUAL_INITS}. Received: residual_init={residual_init!r}"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    kernel_initializer = _torch_uniform()
    options = dict(
        weight_decay=weight_decay,
        kernel_initializer=kernel_initializer,
        fused_batchnorm=fused_batchnorm,
        sync_batchnorm=sync_batchnorm,
    )
    x = _conv_bn_relu(inputs, width, "prep", **options)
    residual_options = dict(options, kernel_initializer=Dirac()) if residual_init == "dirac" else options
    x = _conv_bn_relu(x, 2 * width, "layer1", pool=True, **options)
    x = _residual_block(x, 2 * width, "layer1", **residual_options)
    x = _conv_bn_relu(x, 4 * width, "layer2", pool=True, **options)
    x = layers.Identity(name="layer2")(x)
    x = _conv_bn_relu(x, 8 * width, "layer3", pool=True, **options)
    x = _residual_block(x, 8 * width, "layer3", **residual_options)
    x = layers.MaxPooling2D(4, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    x = layers.Dense(
        num_classes,
        kernel_initializer=kernel_initializer,
        bias_initializer=_torch_uniform(fan_in=8 * width),
        kernel_regularizer=regularizer,
        name="fc",
    )(x)
    if logit_scale != 1:
        x = layers.Rescaling(logit_scale, name="logit_scale")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
