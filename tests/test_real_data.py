"""One test on a slice of the real CIFAR-10 copy in ../shared (skipped without it)."""

import numpy as np
import pytest

from tests.conftest import SHARED_CIFAR10

pytestmark = pytest.mark.skipif(not SHARED_CIFAR10.is_dir(), reason="../shared/datasets/cifar10 is not present")


def load_slice(split, per_class):
    from keras_s11.classes import CIFAR10_CLASSES
    from keras_s11.data.sources import _read_image

    images, labels = [], []
    for label, name in enumerate(CIFAR10_CLASSES):
        files = sorted((SHARED_CIFAR10 / split / name).iterdir())[:per_class]
        images += [_read_image(str(f)) for f in files]
        labels += [label] * len(files)
    return np.stack(images), np.asarray(labels, np.int32)


def test_a_small_model_learns_real_images_clearly_above_chance():
    import keras

    from keras_s11.callbacks import OneCycle
    from keras_s11.data import make_eval_dataset, make_train_dataset
    from keras_s11.model import build_model

    x_train, y_train = load_slice("train", 200)
    x_test, y_test = load_slice("test", 50)
    keras.utils.set_random_seed(0)
    model = build_model(width=16)
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    train = make_train_dataset(x_train, y_train, batch_size=100, seed=0)
    one_cycle = OneCycle(0.02, 0.2, epochs=6, peak_epoch=2)
    model.fit(train, epochs=6, callbacks=[one_cycle], verbose=0)
    _, test_accuracy = model.evaluate(make_eval_dataset(x_test, y_test), verbose=0)
    assert test_accuracy > 0.3, test_accuracy  # chance is 0.1
