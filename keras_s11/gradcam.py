"""Grad-CAM heatmaps (tf-keras-vis) as arrays; drawing is in `keras_s11.figures`."""

import keras
import numpy as np

from keras_s11.backends import require_tensorflow_backend
from keras_s11.saving import as_float32

DEFAULT_GRADCAM_LAYERS = ("layer1", "layer2", "layer3")


class LayerNameError(ValueError):
    """Raised for a Grad-CAM layer name the model does not have."""


def spatial_layer_names(model):
    """Names of the layers whose output is a feature map `(batch, H, W, C)`."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        output = getattr(layer, "output", None)
        if output is not None and len(output.shape) == 4:
            names.append(layer.name)
    return names


def check_layer_names(model, layer_names):
    """Raises `LayerNameError` listing the valid names unless all of `layer_names` are.

    Args:
        model: A Functional `keras.Model`.
        layer_names: Names of the layers to take Grad-CAM at.

    Raises:
        LayerNameError: If a name is not a layer with a spatial output, with a
            one-line message naming it and listing the valid ones.
    """
    valid = spatial_layer_names(model)
    unknown = [name for name in layer_names if name not in valid]
    if not layer_names:
        raise LayerNameError(f"no Grad-CAM layer given; valid layer names: {', '.join(valid)}")
    if unknown:
        raise LayerNameError(
            f"no layer with a feature-map output is named {', '.join(map(repr, unknown))} "
            f"in model {model.name!r}; valid layer names: {', '.join(valid)}"
        )


def gradcam_heatmaps(model, images, class_indices, layer_names=DEFAULT_GRADCAM_LAYERS, batch_size=32):
    """Grad-CAM of `images` for the given classes, at each of `layer_names`.

    Uses tf-keras-vis's `Gradcam` with the softmax replaced by a linear
    output (`ReplaceToLinear`), one `CategoricalScore` entry per image, on
    batches of images. A mixed-precision model is evaluated through a
    float32 copy. Each heatmap is resized to the image and scaled to [0, 1].

    Args:
        model: A Functional `keras.Model` taking normalised images (as the
            pipelines of `keras_s11.data` feed them) and ending in a softmax.
        images: Raw pixels, uint8 array `(N, H, W, 3)` with `(H, W, 3)` the
            model's input shape (as `keras_s11.data.load_cifar10` returns
            them); normalised here. Normalised floats are refused.
        class_indices: Class to explain for each image, `(N,)`, each in
            `[0, number of classes)`.
        layer_names: Layers whose output feature maps are weighted.
        batch_size: Images per Grad-CAM batch.

    Returns:
        A dict `{layer name: float32 array (N, H, W)}` with values in [0, 1].

    Raises:
        LayerNameError: If a layer name is unknown (the message lists the
            valid ones).
        ValueError: If `images` are not uint8 pixels of the model's input
            shape, or `class_indices` does not match them; the message says
            what is wanted and what was received.
        keras_s11.backends.BackendError: On Keras's JAX or PyTorch backend
            (tf-keras-vis is TensorFlow code), in one line.

    Example:

    >>> (_, _), (x_test, y_test) = load_cifar10("../shared/datasets/cifar10")
    >>> heatmaps = gradcam_heatmaps(model, x_test[:8], y_test[:8], ["layer3"])
    >>> heatmaps["layer3"].shape
    (8, 32, 32)
    """
    require_tensorflow_backend("Grad-CAM (tf-keras-vis)", "the report skips Grad-CAM on other backends")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    from keras_s11.data.pipeline import normalize

    layer_names = list(layer_names)
    check_layer_names(model, layer_names)
    images = check_images(model, images)
    class_indices = check_class_indices(model, class_indices, len(images))
    model = as_float32(model)
    gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    heatmaps = {name: np.zeros(images.shape[:3], dtype=np.float32) for name in layer_names}
    for start in range(0, len(images), batch_size):
        batch = normalize(images[start : start + batch_size])
        score = CategoricalScore(class_indices[start : start + batch_size].tolist())
        for name in layer_names:
            cam = gradcam(score, batch, penultimate_layer=name, seek_penultimate_conv_layer=False)
            heatmaps[name][start : start + len(cam)] = np.clip(np.reshape(cam, (len(cam), *images.shape[1:3])), 0, 1)
    return heatmaps


def check_images(model, images):
    """`images` as a NumPy array if they are uint8 pixels of the model's input shape.

    Args:
        model: The `keras.Model` to explain.
        images: Candidate images.

    Returns:
        The images as a uint8 NumPy array `(N, H, W, 3)`.

    Raises:
        ValueError: If they are not uint8 or not of shape `(N, H, W, 3)` with
            `(H, W, 3)` the model's input shape; the one-line message says
            what is wanted and what was received (dtype, shape, value range).
    """
    images = np.asarray(images)
    expected = tuple(model.input_shape[1:])
    shape = ", ".join(str(size) for size in expected)
    wanted = f"uint8 pixels 0..255 of shape (N, {shape}), as load_cifar10 returns them"
    if images.dtype != np.uint8:
        values = ""
        if images.size and np.issubdtype(images.dtype, np.number):
            values = f" with values in [{float(images.min()):.4g}, {float(images.max()):.4g}]"
        hint = ""
        if np.issubdtype(images.dtype, np.floating):
            hint = "; pass the raw pixels, not normalised or rescaled floats: gradcam_heatmaps normalises them itself"
        raise ValueError(
            f"Argument `images` must be {wanted}. Received: dtype={images.dtype}, shape={images.shape}{values}{hint}"
        )
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(f"Argument `images` must be {wanted}. Received: shape={images.shape}")
    return images


def check_class_indices(model, class_indices, count):
    """`class_indices` as an int64 array `(count,)` of valid classes of `model`.

    Raises:
        ValueError: If the shape or a value does not fit, naming both.
    """
    classes = np.asarray(class_indices)
    num_classes = model.output_shape[-1]
    if classes.shape != (count,) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"Argument `class_indices` must hold one integer class per image, shape ({count},). "
            f"Received: dtype={classes.dtype}, shape={classes.shape}"
        )
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise ValueError(
            f"Argument `class_indices` must be in [0, {num_classes}). "
            f"Received: values in [{classes.min()}, {classes.max()}]"
        )
    return classes.astype(np.int64)
