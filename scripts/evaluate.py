"""Evaluates a saved model on the CIFAR-10 test set and writes a report folder.

    python scripts/evaluate.py --model runs/RUN/model.keras --data-dir ../shared/datasets/cifar10

Predictions are computed once; the report folder (default: report/ next to
the model) gets every figure as PNG, metrics.json and report.md. When the
model sits in a run folder of scripts/train.py, the report also shows the
run's LR range test, LR schedule, training curves, configuration and found
LRs. The folder appears complete or not at all, and is never overwritten.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_s11.cli import ArgumentParser, fail, positive_int, quiet_tensorflow, run_script  # noqa: E402
from keras_s11.model_file import ModelFileError, check_keras_file  # noqa: E402
from keras_s11.run_folder import OutputFolderError, check_output_folder  # noqa: E402

DEFAULT_LAYERS = ("layer1", "layer2", "layer3")


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a .keras file (e.g. runs/RUN/model.keras)")
    parser.add_argument("--data-dir", help="class folders, cifar-10-batches-py or its .tar.gz (default: tfds)")
    parser.add_argument("--out", help="report folder to create (default: report/ next to the model)")
    parser.add_argument("--layers", nargs="+", default=list(DEFAULT_LAYERS), help="Grad-CAM layers")
    parser.add_argument("--gradcam-images", type=positive_int, default=8, help="misclassified images for Grad-CAM")
    parser.add_argument("--misclassified-images", type=positive_int, default=25, help="images in the mistakes grid")
    parser.add_argument("--batch-size", type=positive_int, default=512, help="images per prediction batch")
    return parser.parse_args(argv)


def main(argv=None):
    quiet_tensorflow()  # before anything imports TensorFlow
    args = parse_args(argv)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.model)), "report")
    if os.path.exists(out):
        fail(f"report folder {out} already exists; choose a new one with --out")
    try:
        check_output_folder(out)  # its parent can be created and written
        check_keras_file(args.model)  # before TensorFlow starts: a wrong --model costs milliseconds
    except (OutputFolderError, ModelFileError) as error:
        fail(str(error), code=1)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # tfds, when used, starts TensorFlow

    from keras_s11.classes import CIFAR10_CLASSES
    from keras_s11.data import DataError
    from keras_s11.data.sources import load_cifar10_test

    try:  # the data loaders need no TensorFlow: bad data fails before it starts
        x_test, y_test = load_cifar10_test(args.data_dir)
    except DataError as error:
        fail(str(error), code=1)

    from keras_s11.gradcam import LayerNameError, check_layer_names
    from keras_s11.report import ReportError, check_report_inputs, classwise_table, read_run_folder, write_report
    from keras_s11.saving import load_model

    try:
        model = load_model(args.model)
        check_layer_names(model, args.layers)
        run = read_run_folder(os.path.dirname(args.model) or ".")
        check_report_inputs(model, y_test, CIFAR10_CLASSES, args.layers)
    except (ModelFileError, LayerNameError, ReportError) as error:
        fail(str(error), code=1)
    print(f"Model: {args.model} ({model.count_params():,} parameters)")
    print(f"Data: {len(x_test)} test images from {args.data_dir or 'tfds'}")
    details = {
        "model": f"`{args.model}`",
        "data": f"{len(x_test):,} test images from `{args.data_dir or 'tfds'}`",
        "command": f"`python scripts/evaluate.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
    }
    metrics = write_report(
        out,
        model,
        x_test,
        y_test,
        CIFAR10_CLASSES,
        run=run,
        layers=args.layers,
        misclassified_images=args.misclassified_images,
        gradcam_images=args.gradcam_images,
        batch_size=args.batch_size,
        details=details,
    )
    print(classwise_table(metrics))
    print(
        f"Test accuracy {100 * metrics['accuracy']:.2f} % "
        f"({metrics['num_misclassified']} of {metrics['num_images']} misclassified)"
    )
    print(f"Report: {os.path.abspath(out)}")


if __name__ == "__main__":
    run_script(main)
