"""The LR range test and the one cycle on your own model: a small sequence classifier (a GRU, AdamW).

Synthetic "text": sequences of 24 tokens from a vocabulary of 20, each holding token 3 and
token 4 once. The label says whether 3 comes before 4: a question about order that a
recurrent layer answers and a bag of tokens cannot. The script runs the range test, saves
its figure, trains with the one cycle between the two LRs found, and the same model (same
initial weights, same batches) at AdamW's default constant LR for the same epochs, and
prints the test accuracy of both.

    python examples/own_model_sequence.py           # about 15 s on 2 CPU cores
    python examples/own_model_sequence.py --quick   # a smoke test: a few hundred sequences, 2 epochs
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
VOCABULARY, LENGTH = 20, 24


def make_data(n, seed):
    """`(tokens, labels)`: label 1 where token 3 comes before token 4, in about half of the sequences."""
    rng = np.random.default_rng(seed)
    tokens = rng.choice([t for t in range(VOCABULARY) if t not in (3, 4)], size=(n, LENGTH))
    places = np.argsort(rng.random((n, LENGTH)), axis=1)[:, :2]  # two distinct positions a sequence
    rows = np.arange(n)
    tokens[rows, places[:, 0]], tokens[rows, places[:, 1]] = 3, 4
    return tokens.astype("int32"), (places[:, 0] < places[:, 1]).astype("int32")


def make_model(lr, seed):
    """The same initial weights for every call with the same seed."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            keras.layers.Embedding(VOCABULARY, 16),
            keras.layers.GRU(32),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.AdamW(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: little data, few steps, 2 epochs")
    parser.add_argument("--out-dir", default=FIGURES, help="where the range-test figure goes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n, steps, epochs, peak = (512, 100, 2, 1) if args.quick else (2048, 100, 3, 1)
    batch_size, constant_lr = 64, 1e-3  # 1e-3: AdamW's default
    started = time.time()
    (x_train, y_train), (x_test, y_test) = make_data(n, args.seed), make_data(n // 2, args.seed + 1)

    # 1. The range test: the LR grows from 1e-5 to 10 over `steps` batches; the model comes back untouched.
    model = make_model(constant_lr, args.seed)
    keras.utils.set_random_seed(args.seed)
    result = find_lr_range(
        model, x_train, y_train, batch_size=batch_size, start_lr=1e-5, end_lr=10.0, num_steps=steps, verbose=0
    )
    print(
        f"range test: LRMIN={result.lr_min:.3g} (band {result.lr_min_band[0]:.3g}-{result.lr_min_band[1]:.3g}), "
        f"LRMAX={result.lr_max:.3g} (band {result.lr_max_band[0]:.3g}-{result.lr_max_band[1]:.3g})"
    )
    os.makedirs(args.out_dir, exist_ok=True)
    figure_path = os.path.join(args.out_dir, "sequence_lr_range_test.png")
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
