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
        images: uint8 array `(N, H, W, 3)`; normalised here.
        class_indices: Class to explain for each image, `(N,)`.
        layer_names: Layers whose output feature maps are weighted.
        batch_size: Images per Grad-CAM batch.

    Returns:
        A dict `{layer name: float32 array (N, H, W)}` with values in [0, 1].

    Raises:
        LayerNameError: If a layer name is unknown (the message lists the
            valid ones).
        ValueError: If `class_indices` does not match `images`.
        keras_s11.backends.BackendError: On Keras's JAX or PyTorch backend
            (tf-keras-vis is TensorFlow code), in one line.
    """
    require_tensorflow_backend("Grad-CAM (tf-keras-vis)", "the report skips Grad-CAM on other backends")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    from keras_s11.data.pipeline import normalize

    layer_names = list(layer_names)
    check_layer_names(model, layer_names)
    images = np.asarray(images)
    class_indices = np.asarray(class_indices, dtype=np.int64)
    if images.ndim != 4 or class_indices.shape != (len(images),):
        raise ValueError(
            "Arguments must be images `(N, H, W, 3)` and `class_indices` `(N,)`. "
            f"Received shapes: {images.shape} and {class_indices.shape}"
        )
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
