"""CIFAR-10 loading and the tf.data input pipelines.

The loaders need only NumPy and Pillow; the pipeline and augmentation names
import TensorFlow and Keras on first use.
"""

import importlib

from keras_s11.data.holdout import holdout_split
from keras_s11.data.safe_pickle import UnsafePickleError, safe_loads
from keras_s11.data.sources import (
    DataError,
    load_cifar10,
    load_cifar10_archive,
    load_cifar10_batches,
    load_image_folder,
    load_tfds,
)
from keras_s11.data.subset import random_subset

_LAZY = {
    "Cutout": "keras_s11.data.augment",
    "RandomHorizontalFlip": "keras_s11.data.augment",
    "RandomPadCrop": "keras_s11.data.augment",
    "CIFAR10_MEAN": "keras_s11.data.pipeline",
    "CIFAR10_STD": "keras_s11.data.pipeline",
    "make_augmenter": "keras_s11.data.pipeline",
    "make_eval_dataset": "keras_s11.data.pipeline",
    "make_predict_dataset": "keras_s11.data.pipeline",
    "make_resumable_train_dataset": "keras_s11.data.pipeline",
    "make_train_dataset": "keras_s11.data.pipeline",
    "normalize": "keras_s11.data.pipeline",
}

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "Cutout",
    "DataError",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "UnsafePickleError",
    "holdout_split",
    "load_cifar10",
    "load_cifar10_archive",
    "load_cifar10_batches",
    "load_image_folder",
    "load_tfds",
    "make_augmenter",
    "make_eval_dataset",
    "make_predict_dataset",
    "make_resumable_train_dataset",
    "make_train_dataset",
    "normalize",
    "random_subset",
    "safe_loads",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_s11.data' has no attribute {name!r}")
