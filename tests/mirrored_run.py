"""Trains a tiny model on one device and under MirroredStrategy over two logical CPUs.

Run as a script by tests/test_distribute.py (the CPU must be split before
TensorFlow starts, so this needs a process of its own); prints one JSON line.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_s11.callbacks import OneCycle  # noqa: E402
from keras_s11.data import make_resumable_train_dataset  # noqa: E402
from keras_s11.distribute import make_strategy, shard_by_data  # noqa: E402
from keras_s11.losses import SparseCategoricalCrossentropy  # noqa: E402
from keras_s11.lr_finder import find_lr_range  # noqa: E402
from keras_s11.model import build_model  # noqa: E402

# Eight steps an epoch: a strategy reads a few batches ahead of its steps (see make_train_dataset).
BATCH, STEPS = 32, 8


def train(strategy, sync_batchnorm):
    """Range test (5 steps, LR 1e-3 to 1) then two one-cycle epochs (LR 0.04 > 0.4 > 0.04)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(BATCH * STEPS, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=BATCH * STEPS)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model(width=4, weight_decay=0, sync_batchnorm=sync_batchnorm)  # no float32 L2 sum
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
            loss=SparseCategoricalCrossentropy(label_smoothing=0.2),
            metrics=["accuracy"],
        )

    def dataset():
        return shard_by_data(make_resumable_train_dataset(images, labels, BATCH, seed=0))

    initial = [np.array(w) for w in model.get_weights()]
    # The range test reads passes (epochs) of its own input, as scripts/train.py gives it:
    # a strategy's prefetching may read further ahead than the steps it runs.
    found = find_lr_range(model, dataset(), start_lr=1e-3, end_lr=1.0, num_steps=5, verbose=0)
    restored = all(np.array_equal(a, b) for a, b in zip(initial, model.get_weights()))
    one_cycle = OneCycle(0.04, 0.4, epochs=2, peak_epoch=1)
    history = model.fit(dataset(), epochs=2, callbacks=[one_cycle], verbose=0, shuffle=False)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "range_test_lrs": found.lrs,
        "range_test_losses": found.losses,
        "restored_after_range_test": restored,
        "one_cycle_lrs": one_cycle.lrs,
        "epoch_losses": history.history["loss"],
        "weights": [np.asarray(w).ravel().tolist() for w in model.get_weights()],
    }


if __name__ == "__main__":
    # float64, so that the comparison can be tight. In float32 the first step's
    # gradients of the early layers differ by about 1e-3 (relative) between one
    # device and two synchronized replicas (the summation order and BN's
    # one-pass variance differ), and such differences grow at high LRs; in
    # float64 they are about 1e-15.
    keras.config.set_dtype_policy("float64")
    mirrored = make_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    results = {
        "single": train(make_strategy("default"), sync_batchnorm=False),
        "mirrored": train(mirrored, sync_batchnorm=True),
        "mirrored_unsynced": train(mirrored, sync_batchnorm=False),
    }
    print(json.dumps(results))
