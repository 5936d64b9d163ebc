"""Classifies image files with an exported ONNX model: onnxruntime, NumPy and Pillow only.

    python scripts/predict.py cat.png dog.jpg --model export/NAME/model.onnx

Prints one line per image: the path, the class and its probability. The
model's input layout and normalisation are read from the ONNX metadata that
scripts/export.py writes. TensorFlow is never imported.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_s11.cli import ArgumentParser, fail, positive_int, quiet_tensorflow, run_script  # noqa: E402
from keras_s11.serving import (  # noqa: E402
    ImageError,
    OnnxClassifier,
    ServingModelError,
    check_onnx_path,
    format_prediction,
    load_images,
)


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (32x32 RGB unless --resize)")
    parser.add_argument("--model", required=True, help="model.onnx written by scripts/export.py")
    parser.add_argument("--resize", action="store_true", help="convert other sizes and modes to 32x32 RGB (bicubic)")
    parser.add_argument("--top-k", type=positive_int, default=1, help="classes to print per image")
    return parser.parse_args(argv)


def main(argv=None):
    quiet_tensorflow()  # before anything imports TensorFlow
    args = parse_args(argv)
    try:
        check_onnx_path(args.model)  # before the images are decoded and onnxruntime starts
        images = load_images(args.images, resize=args.resize)
        classifier = OnnxClassifier(args.model)
    except (ServingModelError, ImageError) as error:
        fail(str(error), code=1)
    for path, probabilities in zip(args.images, classifier.predict(images)):
        print(format_prediction(path, probabilities, classifier.class_names, args.top_k))


if __name__ == "__main__":
    run_script(main)
