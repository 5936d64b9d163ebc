"""Export for serving and for PyTorch users, each artefact checked for parity.

`export_model` writes, into one folder that appears only when every check has
passed: `model.onnx` (tf2onnx; NHWC or NCHW; optionally with the
normalisation inside), `saved_model/` (TF Serving), `model.safetensors` (the
assignment's PyTorch state dict) and `parity.json`.

The names below import their module on first use, so that
`keras_s11.export.defaults` (and `scripts/export.py --help`) import no
TensorFlow. The PyTorch state dict (`torch_state_dict`, `save_state_dict`)
and `ExportError` never import TensorFlow: they work on every Keras backend.
The ONNX file and the SavedModel are made with TensorFlow (tf2onnx).
"""

import importlib

from keras_s11.export.defaults import DEFAULT_OPSET, DEFAULT_PARITY_IMAGES, DEFAULT_TOLERANCE, FORMATS

_LAZY = {
    "export_model": "keras_s11.export.exporter",
    "export_onnx": "keras_s11.export.onnx_file",
    "ParityError": "keras_s11.export.parity",
    "compare": "keras_s11.export.parity",
    "parity_images": "keras_s11.export.parity",
    "export_saved_model": "keras_s11.export.saved_model",
    "saved_model_probabilities": "keras_s11.export.saved_model",
    "ExportError": "keras_s11.export.errors",
    "make_input_spec": "keras_s11.export.signature",
    "serving_function": "keras_s11.export.signature",
    "save_state_dict": "keras_s11.export.state_dict",
    "torch_state_dict": "keras_s11.export.state_dict",
}

__all__ = ["DEFAULT_OPSET", "DEFAULT_PARITY_IMAGES", "DEFAULT_TOLERANCE", "FORMATS", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_s11.export' has no attribute {name!r}")
