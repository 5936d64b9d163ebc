"""The PyTorch state dict of the assignment's module, written as safetensors.

Needs NumPy and safetensors only; PyTorch is used, when installed, to check
the written file (`torch_probabilities`).
"""

import os

import numpy as np

from keras_s11.export.errors import ExportError
from keras_s11.run_folder import current_umask

# PyTorch module name > Keras layer name, in the module's parameter order;
# each `*_conv*` layer is a convolution, each `*_bn*` a BatchNorm.
TORCH_NAMES = {
    "prep.0": "prep_conv",
    "prep.1": "prep_bn",
    "layer1.conv": "layer1_conv",
    "layer1.bn": "layer1_bn",
    "layer1.res.conv1": "layer1_res_conv1",
    "layer1.res.bn1": "layer1_res_bn1",
    "layer1.res.conv2": "layer1_res_conv2",
    "layer1.res.bn2": "layer1_res_bn2",
    "layer2.0": "layer2_conv",
    "layer2.2": "layer2_bn",
    "layer3.conv": "layer3_conv",
    "layer3.bn": "layer3_bn",
    "layer3.res.conv1": "layer3_res_conv1",
    "layer3.res.bn1": "layer3_res_bn1",
    "layer3.res.conv2": "layer3_res_conv2",
    "layer3.res.bn2": "layer3_res_bn2",
}


def _layer(model, name):
    try:
        return model.get_layer(name)
    except ValueError:
        raise ExportError(
            f"the model has no layer {name!r}: the PyTorch state dict needs this project's ResNet-9"
        ) from None


def logit_scale(model):
    """The constant factor between the FC output and the softmax (1 if none)."""
    names = {layer.name for layer in model.layers}
    if "logit_scale" not in names:
        return 1.0
    layer = model.get_layer("logit_scale")
    if float(layer.offset) != 0.0:
        raise ExportError(f"the logit_scale layer has offset {layer.offset}; only a pure scale folds into fc")
    return float(layer.scale)


def torch_state_dict(model):
    """The model's weights under the assignment's PyTorch names and layouts.

    Convolution kernels go from Keras's HWIO to PyTorch's OIHW, the FC kernel
    from (in, out) to (out, in). BatchNorm parameters map gamma > weight,
    beta > bias, moving mean/variance > running_mean/var; `num_batches_tracked`
    (not kept by Keras, used by PyTorch only with `momentum=None`) is 0. The
    logit scale is folded into `fc`: `softmax(s * (W x + b))` equals
    `softmax((s W) x + s b)`, and for the default 0.125 (a power of two) the
    scaled weights are exact.

    Args:
        model: This project's ResNet-9 (any width, any dtype policy).

    Returns:
        A dict of NumPy arrays in the PyTorch module's key order.

    Raises:
        ExportError: If a layer of the network is missing.
    """
    state = {}
    for torch_name, keras_name in TORCH_NAMES.items():
        layer = _layer(model, keras_name)
        if "_conv" in keras_name:
            kernel = np.asarray(layer.kernel.numpy(), np.float32)
            state[f"{torch_name}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
            continue
        for key, variable in (
            ("weight", layer.gamma),
            ("bias", layer.beta),
            ("running_mean", layer.moving_mean),
            ("running_var", layer.moving_variance),
        ):
            state[f"{torch_name}.{key}"] = np.asarray(variable.numpy(), np.float32)
        state[f"{torch_name}.num_batches_tracked"] = np.array(0, np.int64)
    fc = _layer(model, "fc")
    scale = np.float32(logit_scale(model))
    state["fc.weight"] = np.ascontiguousarray(np.asarray(fc.kernel.numpy(), np.float32).T * scale)
    state["fc.bias"] = np.asarray(fc.bias.numpy(), np.float32) * scale
    return state


def architecture_metadata(state):
    """`{"width": ..., "num_classes": ...}` of a state dict, as strings for the safetensors header.

    `keras_s11.torch_reference.ResNet9.from_safetensors` builds the module
    from them.
    """
    return {"width": str(state["prep.0.weight"].shape[0]), "num_classes": str(state["fc.weight"].shape[0])}


def save_state_dict(state, path, metadata=None):
    """Writes a state dict of NumPy arrays as safetensors, atomically.

    Args:
        state: Dict of NumPy arrays.
        path: Output `.safetensors` path.
        metadata: Optional dict of strings stored in the file header.
    """
    from safetensors.numpy import save_file

    tmp = f"{path}.partial"
    save_file(state, tmp, metadata={"format": "pt", **(metadata or {})})
    os.chmod(tmp, 0o666 & ~current_umask())  # safetensors creates it private (0600)
    os.replace(tmp, path)


def check_state_dict_file(path, state):
    """Reads a written state dict back and checks it holds exactly `state`.

    Raises:
        keras_s11.export.ParityError: If a key, shape, dtype or value differs.
    """
    from safetensors.numpy import load_file

    from keras_s11.export.parity import ParityError

    loaded = load_file(path)
    if sorted(loaded) != sorted(state):
        raise ParityError(f"{path} holds keys {sorted(loaded)}, expected {sorted(state)}")
    for key, value in state.items():
        if loaded[key].dtype != value.dtype or not np.array_equal(loaded[key], value):
            raise ParityError(f"{path}: {key} does not read back as written")


def torch_available():
    """Whether PyTorch can be imported."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def torch_probabilities(path, images_nchw, num_classes=10, batch_size=256):
    """Loads a state dict file into `keras_s11.torch_reference.ResNet9` and runs it.

    Args:
        path: `.safetensors` file written by `save_state_dict`.
        images_nchw: float32 array `(N, 3, 32, 32)`, normalised.
        num_classes: Number of classes.

    Returns:
        float32 array `(N, num_classes)` of softmax probabilities (eval mode).
    """
    import torch

    from keras_s11.torch_reference import ResNet9

    module = ResNet9.from_safetensors(path)
    if module.fc.out_features != num_classes:
        raise ExportError(f"{path} holds a module of {module.fc.out_features} classes, expected {num_classes}")
    outputs = []
    with torch.no_grad():
        for start in range(0, len(images_nchw), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images_nchw[start : start + batch_size]))
            outputs.append(module(batch).softmax(dim=1).numpy())
    return np.concatenate(outputs).astype(np.float32)
