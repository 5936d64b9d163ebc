"""CIFAR-10 loading and the input pipelines.

The loaders need only NumPy and Pillow. The other names import their module
on first use: the tf.data pipeline and augmentation layers import TensorFlow
(and Keras); the `PyDataset` inputs (`make_train_batches`,
`make_eval_batches`) and the backend dispatch (`make_inputs`) import Keras
but never TensorFlow (on the TensorFlow backend Keras itself imports it).
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
from keras_s11.data.stats import CIFAR10_MEAN, CIFAR10_STD, normalize_array
from keras_s11.data.subset import random_subset

_LAZY = {
    "Cutout": "keras_s11.data.augment",
    "RandomHorizontalFlip": "keras_s11.data.augment",
    "RandomPadCrop": "keras_s11.data.augment",
    "EvalBatches": "keras_s11.data.eval_batches",
    "TrainBatches": "keras_s11.data.train_batches",
    "make_eval_batches": "keras_s11.data.eval_batches",
    "make_eval_input": "keras_s11.data.inputs",
    "make_inputs": "keras_s11.data.inputs",
    "make_train_batches": "keras_s11.data.train_batches",
    "make_train_input": "keras_s11.data.inputs",
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
    "EvalBatches",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "TrainBatches",
    "UnsafePickleError",
    "holdout_split",
    "load_cifar10",
    "load_cifar10_archive",
    "load_cifar10_batches",
    "load_image_folder",
    "load_tfds",
    "make_augmenter",
    "make_eval_batches",
    "make_eval_dataset",
    "make_eval_input",
    "make_inputs",
    "make_predict_dataset",
    "make_resumable_train_dataset",
    "make_train_batches",
    "make_train_dataset",
    "make_train_input",
    "normalize",
    "random_subset",
    "normalize_array",
    "safe_loads",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_s11.data' has no attribute {name!r}")
