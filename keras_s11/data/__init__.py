"""CIFAR-10 loading and the tf.data input pipelines."""

from keras_s11.data.augment import Cutout, RandomHorizontalFlip, RandomPadCrop
from keras_s11.data.pipeline import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    make_augmenter,
    make_eval_dataset,
    make_train_dataset,
    normalize,
)
from keras_s11.data.safe_pickle import UnsafePickleError, safe_loads
from keras_s11.data.sources import (
    DataError,
    load_cifar10,
    load_cifar10_archive,
    load_cifar10_batches,
    load_image_folder,
    load_tfds,
)

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "Cutout",
    "DataError",
    "RandomHorizontalFlip",
    "RandomPadCrop",
    "UnsafePickleError",
    "load_cifar10",
    "load_cifar10_archive",
    "load_cifar10_batches",
    "load_image_folder",
    "load_tfds",
    "make_augmenter",
    "make_eval_dataset",
    "make_train_dataset",
    "normalize",
    "safe_loads",
]
