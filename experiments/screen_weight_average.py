"""Screens weight averaging on a held-out slice: several EMA momenta from one training run.

    python experiments/screen_weight_average.py --data-dir ../shared/datasets/cifar10 \
        --holdout 5000 --width 32 --seed 0 --run-name screen-w32-ema-s0

Trains once with the default recipe without its own weight average (any
`scripts/train.py` setting can be given as `--set NAME=VALUE`), keeping an exponential moving average of the
weights for each momentum in `--momenta` (per step: `average = m * average +
(1 - m) * weights`). After training each average is evaluated on the
held-out slice (plain and with flip TTA) in three forms:

- `all`: every weight averaged, the BatchNormalization moving statistics too;
- `trainable`: the trainable weights averaged, the moving statistics those of
  the last step (what Keras's `use_ema` optimizers leave in the model);
- `recalibrated`: the trainable weights averaged, the moving statistics
  recomputed for them on `--recalibration-steps` augmented training batches.

The table goes to stdout and to `weight_average.json` in the run folder.
Settings are chosen on the held-out slice only; the test accuracy is printed
beside it for the record, not for choosing.
"""

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_s11 import cli  # noqa: E402
from keras_s11.batchnorm import RECALIBRATION_STEPS  # noqa: E402

MOMENTA = (0.98, 0.99, 0.995, 0.998)


class AverageTracker:
    """Keeps `average = m * average + (1 - m) * weights` of `model.get_weights()` after every step."""

    def __init__(self, momentum):
        self.momentum = momentum
        self.average = None

    def update(self, weights):
        if self.average is None:
            self.average = [np.array(w, dtype=np.float64) for w in weights]
            return
        for average, weight in zip(self.average, weights):
            average *= self.momentum
            average += (1 - self.momentum) * weight


def tracking_callback(trackers):
    """A Keras callback feeding every tracker the weights after each training step."""
    import keras

    class Track(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            weights = self.model.get_weights()
            for tracker in trackers:
                tracker.update(weights)

    return Track()


def evaluate(model, images, labels, batch_size):
    """`(accuracy, accuracy with flip TTA)` of `model` on uint8 `images`."""
    from keras_s11.evaluation import accuracy, flip_averaged, predict_probabilities

    probabilities = predict_probabilities(model, images, batch_size)
    return accuracy(probabilities, labels), accuracy(flip_averaged(model, images, probabilities, batch_size), labels)


def screen(config, momenta, recalibration_steps):
    """Trains once, then evaluates the raw weights and each average; returns the rows."""
    from keras_s11.batchnorm import recalibrate_batchnorm
    from keras_s11.data import holdout_split, load_cifar10, make_train_input
    from keras_s11.training import train

    trackers = [AverageTracker(m) for m in momenta]
    result = train(config, callbacks=[tracking_callback(trackers)])
    (x_train, y_train), (x_test, y_test) = load_cifar10(
        config.data_dir, limit_train=config.limit_train, limit_test=config.limit_test, seed=config.seed
    )
    (x_train, y_train), (x_held, y_held) = holdout_split(x_train, y_train, config.holdout, seed=config.seed)
    train_input = make_train_input(x_train, y_train, config.batch_size, seed=config.seed + 1)
    model = result.model
    raw = model.get_weights()
    trainable = [any(w is v for v in model.trainable_weights) for w in model.weights]
    rows = [("raw", None, raw)]
    for tracker in trackers:
        rows.append(("all", tracker.momentum, [a.astype(w.dtype) for a, w in zip(tracker.average, raw)]))
        mixed = [a.astype(w.dtype) if t else w for a, w, t in zip(tracker.average, raw, trainable)]
        rows.append(("trainable", tracker.momentum, mixed))
        rows.append(("recalibrated", tracker.momentum, mixed))
    table = []
    for form, momentum, weights in rows:
        model.set_weights(weights)
        if form == "recalibrated":
            recalibrate_batchnorm(model, train_input, recalibration_steps)
        held, held_tta = evaluate(model, x_held, y_held, config.batch_size)
        test, test_tta = evaluate(model, x_test, y_test, config.batch_size)
        table.append(
            dict(form=form, momentum=momentum, holdout=held, holdout_tta=held_tta, test=test, test_tta=test_tta)
        )
        print(
            f"{form:12} {momentum or '-':>6}  holdout {100 * held:.2f} % ({100 * held_tta:.2f} % TTA)  "
            f"test {100 * test:.2f} % ({100 * test_tta:.2f} % TTA)",
            flush=True,
        )
    model.set_weights(raw)
    with open(os.path.join(result.run_path, "weight_average.json"), "w") as f:
        json.dump(table, f, indent=1)
    return table


def main():
    from keras_s11.config import TrainConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--holdout", type=cli.positive_int, required=True)
    parser.add_argument("--width", type=cli.positive_int, default=32)
    parser.add_argument("--seed", type=cli.seed_int, default=0)
    parser.add_argument("--run-name", required=True)
    parser.add_argument("--momenta", type=float, nargs="+", default=MOMENTA)
    parser.add_argument("--recalibration-steps", type=cli.positive_int, default=RECALIBRATION_STEPS)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another TrainConfig field")
    args = parser.parse_args()
    settings = {}
    for item in args.set:
        name, value = item.split("=", 1)
        settings[name] = json.loads(value)
    settings.setdefault("ema_momentum", 0.0)  # the run's own weights are the "last step" row; the averages are ours
    config = TrainConfig(
        data_dir=args.data_dir,
        holdout=args.holdout,
        width=args.width,
        seed=args.seed,
        run_name=args.run_name,
        report=False,
        verbose=2,
        **settings,
    )
    screen(config, args.momenta, args.recalibration_steps)


if __name__ == "__main__":
    cli.quiet_tensorflow()
    main()
