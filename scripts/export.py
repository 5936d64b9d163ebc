"""Exports a trained model to ONNX, a TensorFlow SavedModel and a PyTorch state dict.

    python scripts/export.py --model runs/NAME/model.keras --out export/NAME

Every artefact is run back (onnxruntime, the reloaded SavedModel, PyTorch if
installed) and compared with the Keras model; parity.json holds the figures.
The output folder appears only when every check has passed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_s11.cli import ArgumentParser, fail, positive_float, positive_int, quiet_tensorflow, run_script  # noqa: E402
from keras_s11.export.defaults import (  # noqa: E402
    DEFAULT_OPSET,
    DEFAULT_PARITY_IMAGES,
    DEFAULT_TOLERANCE,
    FORMATS,
)
from keras_s11.model_file import ModelFileError, check_keras_file  # noqa: E402


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a .keras file, e.g. runs/NAME/model.keras")
    parser.add_argument("--out", required=True, help="output folder (must not exist unless --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out once the new export is complete")
    parser.add_argument("--nchw", action="store_true", help="inputs N x 3 x 32 x 32 (torchvision) instead of NHWC")
    parser.add_argument(
        "--with-preprocessing",
        action="store_true",
        help="inputs are raw uint8 pixels (0..255); the model normalises them itself",
    )
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS), help="artefacts to write")
    parser.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET, help="ONNX opset")
    parser.add_argument("--data-dir", help="CIFAR-10 source for the parity images (default: synthetic images)")
    parser.add_argument(
        "--parity-images",
        type=positive_int,
        default=DEFAULT_PARITY_IMAGES,
        help="test images each artefact is compared on with the Keras model",
    )
    parser.add_argument(
        "--tolerance", type=positive_float, default=DEFAULT_TOLERANCE, help="largest allowed |p - p_keras|"
    )
    return parser.parse_args(argv)


def main(argv=None):
    quiet_tensorflow()  # before anything imports TensorFlow
    args = parse_args(argv)
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not args.overwrite:
        fail(f"output folder {out} already exists; pass --overwrite to replace it")
    try:
        check_keras_file(args.model)  # before TensorFlow starts: a wrong --model costs milliseconds
    except ModelFileError as error:
        fail(str(error), code=1)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_s11.data import DataError
    from keras_s11.export import ExportError, ParityError, export_model
    from keras_s11.serving import ServingModelError

    try:
        export_model(
            args.model,
            out,
            nchw=args.nchw,
            with_preprocessing=args.with_preprocessing,
            formats=tuple(dict.fromkeys(args.formats)),
            data_dir=args.data_dir,
            parity_count=args.parity_images,
            opset=args.opset,
            tolerance=args.tolerance,
            overwrite=args.overwrite,
            log=print,
        )
    except ParityError as error:
        fail(f"{error}; nothing was written to {out}", code=1)
    except (ModelFileError, DataError, ExportError, ServingModelError) as error:
        fail(str(error), code=1)


if __name__ == "__main__":
    run_script(main)
