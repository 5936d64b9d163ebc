"""The LR range test and the one cycle on your own model: a tabular regression (mean squared error, Adam).

Generated data: 8 features, a target that mixes them non-linearly, plus noise. The script runs
the range test on the model, saves its figure, trains the model with the one cycle between the
two LRs found, and the same model (same initial weights, same batches) at Adam's default constant
LR for the same epochs, and prints the test error of both.

    python examples/own_model_regression.py           # about 15 s on 2 CPU cores
    python examples/own_model_regression.py --quick   # a smoke test: a few hundred samples, 2 epochs
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_s11.callbacks import OneCycle  # noqa: E402
from keras_s11.lr_finder import find_lr_range  # noqa: E402

FIGURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "figures", "own_model")


def make_data(n, seed):
    """Features N(0, 1); the target a non-linear mix of five of them plus noise of standard deviation 0.1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.5 * x[:, 3] ** 2 - 0.3 * x[:, 4] + 0.1 * rng.normal(size=n)
    return x, y.astype("float32")[:, None]


def make_model(lr, seed):
    """The same initial weights for every call with the same seed."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "mse", metrics=["mae"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: little data, few steps, 2 epochs")
    parser.add_argument("--out-dir", default=FIGURES, help="where the range-test figure goes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n, steps, epochs, peak = (512, 100, 2, 1) if args.quick else (4096, 100, 10, 3)
    batch_size, constant_lr = 64, 1e-3  # 1e-3: Adam's default
    started = time.time()
    (x_train, y_train), (x_test, y_test) = make_data(n, args.seed), make_data(n // 4, args.seed + 1)

    # 1. The range test: the LR grows from 1e-5 to 1 over `steps` batches; the model comes back untouched.
    model = make_model(constant_lr, args.seed)
    keras.utils.set_random_seed(args.seed)
    result = find_lr_range(
        model, x_train, y_train, batch_size=batch_size, start_lr=1e-5, end_lr=1.0, num_steps=steps, verbose=0
    )
    print(
        f"range test: LRMIN={result.lr_min:.3g} (band {result.lr_min_band[0]:.3g}-{result.lr_min_band[1]:.3g}), "
        f"LRMAX={result.lr_max:.3g} (band {result.lr_max_band[0]:.3g}-{result.lr_max_band[1]:.3g})"
    )
    os.makedirs(args.out_dir, exist_ok=True)
    figure_path = os.path.join(args.out_dir, "regression_lr_range_test.png")
    result.plot().savefig(figure_path, dpi=100)
    print(f"figure: {figure_path}")

    # 2. The one cycle between the two LRs, and 3. the same model at a constant LR, on the same batches.
    keras.utils.set_random_seed(args.seed)
    one_cycle = OneCycle.from_range_test(result, epochs=epochs, peak_epoch=peak)
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, callbacks=[one_cycle], verbose=0)
    constant = make_model(constant_lr, args.seed)
    keras.utils.set_random_seed(args.seed)
    constant.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0)

    for name, trained in (
        (f"one cycle {result.lr_min:.3g} > {result.lr_max:.3g}", model),
        (f"constant LR {constant_lr:g}", constant),
    ):
        mse, mae = trained.evaluate(x_test, y_test, batch_size=256, verbose=0)
        print(f"{name}, {epochs} epochs: test mse {mse:.4f}, mae {mae:.4f}")
    print(f"variance of the test target (the mse of predicting its mean): {float(np.var(y_test)):.4f}")
    print(f"took {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
