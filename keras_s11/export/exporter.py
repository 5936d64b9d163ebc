"""One export: ONNX, SavedModel and PyTorch state dict, each checked for parity."""

import os

from keras_s11.export.defaults import DEFAULT_PARITY_IMAGES, FORMATS
from keras_s11.export.onnx_file import DEFAULT_OPSET, export_onnx
from keras_s11.export.parity import DEFAULT_TOLERANCE, check, compare, parity_images
from keras_s11.export.saved_model import export_saved_model, saved_model_probabilities
from keras_s11.export.signature import ExportError, make_input_spec
from keras_s11.export.state_dict import (
    architecture_metadata,
    check_state_dict_file,
    logit_scale,
    save_state_dict,
    torch_available,
    torch_probabilities,
    torch_state_dict,
)
from keras_s11.run_folder import OutputFolderError, check_output_folder

ONNX_FILE = "model.onnx"
SAVED_MODEL_DIR = "saved_model"
STATE_DICT_FILE = "model.safetensors"
PARITY_FILE = "parity.json"


def _quiet(message):
    del message


def _check_out_dir(out_dir, overwrite):
    try:
        check_output_folder(out_dir)  # a file, or not writable
    except OutputFolderError as error:
        raise ExportError(str(error)) from None
    if os.path.isdir(out_dir) and not overwrite:
        raise ExportError(f"output folder {out_dir} already exists; pass --overwrite to replace it")


def _precision(model):
    policies = sorted({layer.dtype_policy.name for layer in model.layers if layer.weights})
    return policies[0] if len(policies) == 1 else "/".join(policies)


def _summary(name, result):
    """One log line for a parity result (or a written but unchecked artefact)."""
    if "max_abs_diff" not in result:
        return f"{name}: written, not run ({result['reason']})"
    runtime = f" ({result['runtime']})" if "runtime" in result else ""
    return (
        f"{name}{runtime}: max |p - p_keras| = {result['max_abs_diff']:.3g}, "
        f"top-1 agreement {100 * result['top1_agreement']:.2f} % on {result['images']} images"
    )


def _onnx(model, run, spec, images, reference, tolerance, opset):
    import onnxruntime

    from keras_s11.serving import OnnxClassifier

    path = run.file(ONNX_FILE)
    export_onnx(model, path, spec, opset)
    result = check(ONNX_FILE, compare(reference, OnnxClassifier(path).predict(images)), tolerance)
    runtime = f"onnxruntime {onnxruntime.__version__}"
    return ONNX_FILE, {**result, "opset": opset, "runtime": runtime}


def _saved_model(model, run, spec, images, reference, tolerance, opset):
    from keras_s11.serving import prepare_inputs

    path = run.file(SAVED_MODEL_DIR)
    export_saved_model(model, path, spec)
    probabilities = saved_model_probabilities(path, prepare_inputs(images, spec))
    result = check(SAVED_MODEL_DIR, compare(reference, probabilities), tolerance)
    runtime = "tf.saved_model.load, serving_default"
    return SAVED_MODEL_DIR, {**result, "runtime": runtime}


def _state_dict(model, run, spec, images, reference, tolerance, opset):
    from keras_s11.serving import prepare_inputs

    path, scale = run.file(STATE_DICT_FILE), logit_scale(model)
    state = torch_state_dict(model)
    metadata = {
        "module": "keras_s11.torch_reference.ResNet9",
        **architecture_metadata(state),
        "logit_scale_folded_into_fc": repr(scale),
    }
    save_state_dict(state, path, metadata)
    check_state_dict_file(path, state)
    entry = {"logit_scale_folded_into_fc": scale}
    if not torch_available():
        return STATE_DICT_FILE, {**entry, "checked": False, "reason": "PyTorch is not installed"}
    import torch

    # What a torchvision pipeline feeds the module: ToTensor() + Normalize(), NCHW.
    torch_inputs = prepare_inputs(images, make_input_spec(nchw=True, class_names=spec.class_names))
    probabilities = torch_probabilities(path, torch_inputs, len(spec.class_names))
    result = check(STATE_DICT_FILE, compare(reference, probabilities), tolerance)
    runtime = f"torch {torch.__version__}, keras_s11.torch_reference.ResNet9 in eval mode"
    return STATE_DICT_FILE, {**entry, **result, "runtime": runtime}


def export_model(
    model_path,
    out_dir,
    nchw=False,
    with_preprocessing=False,
    formats=FORMATS,
    data_dir=None,
    parity_count=DEFAULT_PARITY_IMAGES,
    opset=DEFAULT_OPSET,
    tolerance=DEFAULT_TOLERANCE,
    overwrite=False,
    log=_quiet,
):
    """Exports a saved model and checks every artefact against Keras.

    The exported function is a float32 copy of the model (a mixed-precision
    model is copied; its float32 weights are not rounded). Each artefact is
    run back (onnxruntime, the reloaded SavedModel, and the state dict in
    `keras_s11.torch_reference.ResNet9` when PyTorch is installed) on the
    parity images and compared with the float32 Keras model; the figures go
    to `parity.json`. `out_dir` appears only when every check has passed.

    Args:
        model_path: A `.keras` file.
        out_dir: Output folder, which must not exist unless `overwrite`.
        nchw: ONNX and SavedModel take N x 3 x 32 x 32 instead of NHWC.
        with_preprocessing: They take raw uint8 pixels and normalise inside.
        formats: Any of `FORMATS`.
        data_dir: CIFAR-10 source whose test images are used for parity;
            `None`: deterministic synthetic images.
        parity_count: Number of parity images.
        opset: ONNX opset.
        tolerance: Largest allowed absolute difference of a probability.
        overwrite: Replace an existing `out_dir` once the new one is complete.
        log: Called with one line of progress at a time.

    Returns:
        The parity report (also written to `out_dir/parity.json`).

    Raises:
        ExportError: If `out_dir` exists, `formats` is wrong, or the model
            cannot be exported.
        keras_s11.saving.ModelFileError: If `model_path` is not a Keras model.
        keras_s11.data.DataError: If `data_dir` holds no CIFAR-10.
        keras_s11.export.ParityError: If an artefact fails its parity check;
            nothing is left in `out_dir` then.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"formats must be a non-empty subset of {FORMATS}, got {list(formats)}")
    out_dir = os.path.abspath(os.fspath(out_dir))
    _check_out_dir(out_dir, overwrite)

    from keras_s11.evaluation import predict_probabilities
    from keras_s11.run_folder import RunFolder, write_json
    from keras_s11.saving import as_float32, load_model

    model = load_model(model_path, compile=False)
    spec = make_input_spec(nchw=nchw, with_preprocessing=with_preprocessing)
    float_model = as_float32(model)
    images, source = parity_images(data_dir, parity_count)
    log(f"Parity images: {source['description']} ({source['source']})")
    reference = predict_probabilities(float_model, images)
    report = {
        "model": os.path.abspath(os.fspath(model_path)),
        "model_precision": _precision(model),
        "exported_precision": "float32",
        "input": {"layout": spec.layout, "preprocessing": spec.preprocessing, "description": spec.describe()},
        "parity_images": source,
        "reference": "the float32 copy of the Keras model (the exported function)",
        "artefacts": {},
    }
    if report["model_precision"] != "float32":
        info = compare(reference, predict_probabilities(model, images))
        report["keras_float32_vs_original_model"] = {**info, "note": "for information, not a gate"}
        log(_summary(f"float32 copy vs the {report['model_precision']} model (information)", info))

    with RunFolder(out_dir, overwrite=overwrite) as run:
        for name, export_and_check in (
            ("onnx", _onnx),
            ("saved_model", _saved_model),
            ("state_dict", _state_dict),
        ):
            if name in formats:
                artefact, entry = export_and_check(float_model, run, spec, images, reference, tolerance, opset)
                report["artefacts"][artefact] = entry
                log(_summary(artefact, entry))
        write_json(run.file(PARITY_FILE), report)
    log(f"Export folder: {out_dir}")
    return report
