"""Serving the exported ONNX model with onnxruntime, NumPy and Pillow only.

Nothing here imports TensorFlow or Keras, so a serving client starts in a
fraction of a second. The ONNX files written by `keras_s11.export` carry their
input contract in their metadata (`InputSpec`), which `OnnxClassifier` reads
to prepare uint8 images the way that model expects.
"""

import dataclasses
import json
import os
import zipfile

import numpy as np

from keras_s11 import cli
from keras_s11.finite_weights import non_finite
from keras_s11.image_file import IMAGE_SIZE, ImageError, read_images  # noqa: F401 - ImageError is part of this API
from keras_s11.model_file import file_kind

LAYOUTS = ("NHWC", "NCHW")
PREPROCESSING = ("client", "in_graph")
ONNX_FILE = "model.onnx"
_RESIZE_HINT = "; pass --resize to convert and resize it"


class ServingModelError(ValueError):
    """Raised when a file is not an ONNX model exported by this project."""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What an exported model takes as input.

    Attributes:
        layout: `"NHWC"` (Keras-native) or `"NCHW"` (PyTorch/torchvision).
        preprocessing: `"client"`: the model takes float32 images normalised
            by the caller (NHWC: `(x - mean) / std`; NCHW: exactly torchvision's
            `ToTensor()` then `Normalize(mean / 255, std / 255)`).
            `"in_graph"`: the model takes raw uint8 pixels (0..255) in `layout`
            and normalises them itself.
        mean: Per-channel mean, in 0..255 pixel units.
        std: Per-channel standard deviation, in 0..255 pixel units.
        class_names: Class names in output order.
    """

    layout: str
    preprocessing: str
    mean: tuple
    std: tuple
    class_names: tuple

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"Argument `layout` must be one of {LAYOUTS}. Received: layout={self.layout!r}")
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(
                f"Argument `preprocessing` must be one of {PREPROCESSING}. "
                f"Received: preprocessing={self.preprocessing!r}"
            )
        for name in ("mean", "std"):
            if len(getattr(self, name)) != 3:
                raise ValueError(f"Argument `{name}` must have 3 values. Received: {name}={getattr(self, name)!r}")

    @property
    def dtype(self):
        """NumPy dtype of the model input."""
        return np.uint8 if self.preprocessing == "in_graph" else np.float32

    @property
    def shape(self):
        """Input shape with `None` for the batch dimension."""
        if self.layout == "NHWC":
            return (None, IMAGE_SIZE, IMAGE_SIZE, 3)
        return (None, 3, IMAGE_SIZE, IMAGE_SIZE)

    def describe(self):
        """One line saying what the model takes, for humans."""
        shape = "N x 32 x 32 x 3" if self.layout == "NHWC" else "N x 3 x 32 x 32"
        if self.preprocessing == "in_graph":
            return f"uint8 {shape} raw pixels (0..255), normalised inside the model"
        if self.layout == "NHWC":
            return f"float32 {shape}, (x - mean) / std with mean={list(self.mean)}, std={list(self.std)} (0..255 units)"
        return f"float32 {shape}, torchvision ToTensor() + Normalize(mean / 255, std / 255)"

    def to_metadata(self):
        """The spec as ONNX `metadata_props` (string keys and values)."""
        return {
            "layout": self.layout,
            "preprocessing": self.preprocessing,
            "mean": json.dumps(list(self.mean)),
            "std": json.dumps(list(self.std)),
            "class_names": json.dumps(list(self.class_names)),
            "input": self.describe(),
        }

    @classmethod
    def from_metadata(cls, metadata):
        """Reads the spec back from a `metadata_props` dict.

        Raises:
            ServingModelError: If a key is missing or malformed.
        """
        missing = [key for key in ("layout", "preprocessing", "mean", "std", "class_names") if key not in metadata]
        if missing:
            raise ServingModelError(f"the model's metadata lacks {missing}; export it with scripts/export.py")
        try:
            return cls(
                layout=metadata["layout"],
                preprocessing=metadata["preprocessing"],
                mean=tuple(float(v) for v in json.loads(metadata["mean"])),
                std=tuple(float(v) for v in json.loads(metadata["std"])),
                class_names=tuple(str(v) for v in json.loads(metadata["class_names"])),
            )
        except (ValueError, TypeError) as error:
            raise ServingModelError(f"the model's input metadata is malformed: {error}") from None


def prepare_inputs(images, spec):
    """Turns uint8 NHWC images into the input `spec` describes.

    Args:
        images: uint8 array `(N, 32, 32, 3)`.
        spec: The model's `InputSpec`.

    Returns:
        An array of `spec.dtype` and layout `spec.layout`.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(
            f"Argument `images` must be uint8 of shape (N, 32, 32, 3). Received: {images.dtype} {images.shape}"
        )
    if spec.preprocessing == "in_graph":
        x = images
    elif spec.layout == "NHWC":  # as keras_s11.data.normalize computes it
        x = (images.astype(np.float32) - np.float32(spec.mean)) / np.float32(spec.std)
    else:  # torchvision: ToTensor() divides by 255, Normalize takes mean / 255 and std / 255
        scaled = images.astype(np.float32) / np.float32(255)
        mean = np.asarray(spec.mean, np.float32) / np.float32(255)
        std = np.asarray(spec.std, np.float32) / np.float32(255)
        x = (scaled - mean) / std
    if spec.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def load_images(paths, resize=False):
    """Reads image files as a uint8 `(N, 32, 32, 3)` RGB array.

    Pillow opens them in `keras_s11.image_file`: a file that claims more
    pixels than Pillow's decompression-bomb limit is refused from its header,
    before it is decoded, with or without `resize`.

    Args:
        paths: Image file paths (any format Pillow reads).
        resize: Convert to RGB and resize (bicubic) images that are not
            32x32 RGB, instead of refusing them.

    Returns:
        uint8 array `(N, 32, 32, 3)`.

    Raises:
        ImageError: For the first file that is missing, a folder, not a
            regular file, undecodable, a decompression bomb, or (without
            `resize`) not a 32x32 RGB image; the message says what it is.
    """
    return read_images(paths, resize=resize, convert=resize, hint="" if resize else _RESIZE_HINT)


def load_image(path, resize=False):
    """Reads one image file as a uint8 `(32, 32, 3)` RGB array; see `load_images`.

    Raises:
        ImageError: As in `load_images`.
    """
    return load_images([path], resize=resize)[0]


def check_onnx_path(path):
    """Raises `ServingModelError` when `path` is plainly not an ONNX file, saying what it is.

    Cheap (no onnxruntime): a missing path, a folder (a SavedModel or export
    folder is named as such, with the `model.onnx` to use where there is
    one), a device or FIFO, or a Keras `.keras` archive.

    Args:
        path: The path given as `--model`.

    Raises:
        ServingModelError: With one line naming the path.
    """
    path = os.fspath(path)
    kind = file_kind(path)
    if kind == "missing":
        raise ServingModelError(f"model file {path} does not exist")
    if kind is not None:
        candidates = [os.path.join(path, ONNX_FILE), os.path.join(os.path.dirname(os.path.abspath(path)), ONNX_FILE)]
        found = [c for c in candidates if os.path.isfile(c)] if os.path.isdir(path) else []
        hint = f"; use {found[0]}" if found else "; pass the model.onnx that scripts/export.py writes"
        raise ServingModelError(f"{path} is {kind}, not an ONNX model file{hint}")
    if zipfile.is_zipfile(path):
        raise ServingModelError(
            f"{path} is a Keras model file (a zip archive), not ONNX; export it with scripts/export.py"
        )


def format_prediction(path, probabilities, class_names, top_k=1):
    """One output line: `path: class probability[, class probability ...]`.

    Args:
        path: The image's path, printed as given.
        probabilities: float array `(classes,)`.
        class_names: Class names in output order.
        top_k: How many classes to list, most likely first.

    Returns:
        The line, probabilities with 4 decimals.
    """
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:top_k]
    return f"{path}: " + ", ".join(f"{class_names[i]} {probabilities[i]:.4f}" for i in order)


class OnnxClassifier:
    """An exported ONNX classifier run with onnxruntime.

    Args:
        path: Path of an ONNX file written by `keras_s11.export`.

    Raises:
        ServingModelError: If the file is missing, not a file (a SavedModel
            folder, say), not ONNX, or lacks the input metadata.

    Example:

    >>> classifier = OnnxClassifier("export/model.onnx")
    >>> probabilities = classifier.predict(uint8_images)  # (N, 32, 32, 3)
    """

    def __init__(self, path):
        path = os.fspath(path)
        check_onnx_path(path)
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            first_line = cli.first_line(error)
            raise ServingModelError(f"{path} is not an ONNX model onnxruntime can load: {first_line}") from None
        _check_finite_initializers(path)
        metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            self.spec = InputSpec.from_metadata(metadata)
        except ServingModelError as error:
            raise ServingModelError(f"{path}: {error}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    @property
    def class_names(self):
        return self.spec.class_names

    def predict(self, images, batch_size=256):
        """Class probabilities for uint8 NHWC images.

        Args:
            images: uint8 array `(N, 32, 32, 3)` (what `load_image` returns).
            batch_size: Images per onnxruntime call.

        Returns:
            float32 array `(N, num_classes)`.
        """
        inputs = prepare_inputs(images, self.spec)
        if not len(inputs):
            return np.zeros((0, len(self.class_names)), np.float32)
        outputs = [
            self.session.run([self.output_name], {self.input_name: inputs[start : start + batch_size]})[0]
            for start in range(0, len(inputs), batch_size)
        ]
        return np.concatenate(outputs).astype(np.float32)


def _check_finite_initializers(path):
    """Raises `ServingModelError` naming the first weight (initializer) of an ONNX file holding NaN or Inf."""
    import onnx
    from onnx import numpy_helper

    for initializer in onnx.load(path).graph.initializer:
        problem = non_finite(initializer.name, numpy_helper.to_array(initializer))
        if problem:
            raise ServingModelError(f"{path} is broken: its {problem}")
