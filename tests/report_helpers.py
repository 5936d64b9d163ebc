"""A tiny compiled model and a hand-made run folder for report tests."""

import json
import os

import keras

from keras_s11.losses import SparseCategoricalCrossentropy
from keras_s11.model import build_model


def tiny_compiled_model(num_classes=10):
    keras.utils.set_random_seed(0)
    model = build_model(num_classes=num_classes, width=4)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(label_smoothing=0.2), metrics=["accuracy"])
    return model


def write_fake_run(folder, model):
    """A run folder as scripts/train.py leaves it, with small hand-made curves."""
    os.makedirs(folder)
    model.save(os.path.join(folder, "model.keras"))
    files = {
        "config.json": {"epochs": 2, "lr_min_used": 0.02, "lr_max_used": 0.2},
        "metrics.json": {"test_accuracy": 0.1, "lr_min": 0.02, "lr_max": 0.2},
        "history.json": {
            "loss": [2.3, 2.2],
            "accuracy": [0.1, 0.2],
            "val_loss": [2.4, 2.3],
            "val_accuracy": [0.1, 0.1],
        },
        "lrs.json": {"steps_per_epoch": 2, "lrs": [0.02, 0.2, 0.11, 0.02]},
        "lr_range_test.json": {
            "lrs": [0.01, 0.1, 1.0],
            "losses": [2.3, 2.2, 2.6],
            "smoothed_losses": [2.3, 2.25, 2.4],
            "accuracies": [0.1, 0.2, 0.1],
            "lr_min": 0.01,
            "lr_max": 0.1,
            "rule": "a rule",
        },
        "train_steps.json": {"steps_per_epoch": 2, "loss": [2.4, 2.2, 2.3, 2.1], "accuracy": [0.1, 0.1, 0.2, 0.2]},
    }
    for name, content in files.items():
        with open(os.path.join(folder, name), "w") as f:
            json.dump(content, f)
