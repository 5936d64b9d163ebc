"""Export defaults, importable without TensorFlow (the command line shows them in `--help`)."""

FORMATS = ("onnx", "saved_model", "state_dict")
DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-4
DEFAULT_PARITY_IMAGES = 500
