"""Export for serving and for PyTorch users, each artefact checked for parity.

`export_model` writes, into one folder that appears only when every check has
passed: `model.onnx` (tf2onnx; NHWC or NCHW; optionally with the
normalisation inside), `saved_model/` (TF Serving), `model.safetensors` (the
assignment's PyTorch state dict) and `parity.json`.
"""

from keras_s11.export.exporter import FORMATS, export_model
from keras_s11.export.onnx_file import DEFAULT_OPSET, export_onnx
from keras_s11.export.parity import DEFAULT_TOLERANCE, ParityError, compare, parity_images
from keras_s11.export.saved_model import export_saved_model, saved_model_probabilities
from keras_s11.export.signature import ExportError, make_input_spec, serving_function
from keras_s11.export.state_dict import save_state_dict, torch_state_dict

__all__ = [
    "DEFAULT_OPSET",
    "DEFAULT_TOLERANCE",
    "FORMATS",
    "ExportError",
    "ParityError",
    "compare",
    "export_model",
    "export_onnx",
    "export_saved_model",
    "make_input_spec",
    "parity_images",
    "save_state_dict",
    "saved_model_probabilities",
    "serving_function",
    "torch_state_dict",
]
