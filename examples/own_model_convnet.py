"""The LR range test and the one cycle on your own model: a small convnet on CIFAR-10 images (SGD, Nesterov).

Reads `--limit` images a class from class folders of images (`train/<class>/*.jpg` and
`test/<class>/*.jpg`, by default the project's copy at ../shared/datasets/cifar10); where
there is none, it makes images whose class sets their colour, so the script runs anywhere.
The script runs the range test, saves its figure, trains with the one cycle between the
two LRs found, and the same model (same initial weights, same batches) at a constant LR of
0.01 (SGD's default) for the same epochs, and prints the test accuracy of both.

    python examples/own_model_convnet.py           # about 40 s on 2 CPU cores
    python examples/own_model_convnet.py --quick   # a smoke test: 20 images a class, 2 epochs
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_s11.callbacks import OneCycle  # noqa: E402
from keras_s11.lr_finder import find_lr_range  # noqa: E402

FIGURES = os.path.join(ROOT, "docs", "figures", "own_model")
DATA = os.path.join(os.path.dirname(ROOT), "shared", "datasets", "cifar10")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_folders(root, split, limit):
    """`(images, labels)`: the first `limit` files of each class folder of `root/split`, as uint8 arrays."""
    images, labels = [], []
    for label, name in enumerate(CLASSES):
        folder = os.path.join(root, split, name)
        for file in sorted(os.listdir(folder))[:limit]:
            images.append(np.asarray(keras.utils.load_img(os.path.join(folder, file)), dtype=np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype="int32")


def generated(n, seed):
    """Images whose class sets their mean colour, plus noise: something a small convnet learns."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype("int32")
    colours = np.random.default_rng(0).integers(40, 216, size=(10, 1, 1, 3))
    images = np.clip(colours[labels] + rng.normal(0, 60, size=(n, 32, 32, 3)), 0, 255)
    return images.astype(np.uint8), labels


def make_model(lr, seed):
    """Three convolution blocks and a linear classifier; the same initial weights for the same seed."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255)]
    for width in (16, 32, 64):
        layers += [
            keras.layers.Conv2D(width, 3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(),
        ]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    optimizer = keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: 20 images a class, 2 epochs")
    parser.add_argument("--data-dir", default=DATA, help="class folders: train/<class>/ and test/<class>/")
    parser.add_argument("--limit", type=int, default=300, help="training images a class (a third as many to test)")
    parser.add_argument("--out-dir", default=FIGURES, help="where the range-test figure goes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    limit = 20 if args.quick else args.limit
    steps, epochs, peak = (100, 2, 1) if args.quick else (100, 8, 2)
    batch_size, constant_lr = 32, 0.01  # 0.01: SGD's default
    started = time.time()
    if os.path.isdir(os.path.join(args.data_dir, "train")):
        (x_train, y_train) = load_folders(args.data_dir, "train", limit)
        (x_test, y_test) = load_folders(args.data_dir, "test", max(limit // 3, 1))
        print(f"data: {len(x_train)} training and {len(x_test)} test images from {args.data_dir}")
    else:
        (x_train, y_train), (x_test, y_test) = generated(10 * limit, args.seed), generated(10 * limit // 3, 1)
        print(f"data: no class folders in {args.data_dir}; {len(x_train)} generated images to train on")

    # 1. The range test: the LR grows from 1e-3 to 10 over `steps` batches; the model comes back untouched.
    model = make_model(constant_lr, args.seed)
    keras.utils.set_random_seed(args.seed)
    result = find_lr_range(
        model, x_train, y_train, batch_size=batch_size, start_lr=1e-3, end_lr=10.0, num_steps=steps, verbose=0
    )
    print(
        f"range test: LRMIN={result.lr_min:.3g} (band {result.lr_min_band[0]:.3g}-{result.lr_min_band[1]:.3g}), "
        f"LRMAX={result.lr_max:.3g} (band {result.lr_max_band[0]:.3g}-{result.lr_max_band[1]:.3g})"
    )
    os.makedirs(args.out_dir, exist_ok=True)
    figure_path = os.path.join(args.out_dir, "convnet_lr_range_test.png")
    result.plot().savefig(figure_path, dpi=100)
    print(f"figure: {figure_path}")

    # 2. The one cycle between the two LRs, and 3. the same model at a constant LR, on the same batches.
    keras.utils.set_random_seed(args.seed)
    one_cycle = OneCycle.from_range_test(result, epochs=epochs, peak_epoch=peak)
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, callbacks=[one_cycle], verbose=0)
    constant = make_model(constant_lr, args.seed)
    keras.utils.set_random_seed(args.seed)
    constant.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)

    runs = ((f"one cycle {result.lr_min:.3g} > {result.lr_max:.3g}", model), (f"constant LR {constant_lr:g}", constant))
    for name, trained in runs:
        loss, accuracy = trained.evaluate(x_test, y_test, batch_size=256, verbose=0)
        print(f"{name}, {epochs} epochs: test accuracy {accuracy:.4f}, loss {loss:.4f}")
    print(f"took {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
