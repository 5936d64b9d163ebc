import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_CIFAR10 = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10"


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts (and leaves) Keras in float32."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def make_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


@pytest.fixture
def image_folder(tmp_path):
    """train/ and test/ class folders of PNGs: 12 and 4 per class."""
    return write_image_folder(tmp_path)


def write_image_folder(root):
    """Writes `image_folder`'s class folders under `root` (a `pathlib.Path`) and returns it."""
    from PIL import Image

    from keras_s11.classes import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    for split, per_class in (("train", 12), ("test", 4)):
        for label, name in enumerate(CIFAR10_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                # Each class has its own mean colour, so a model can learn it.
                base = np.full((32, 32, 3), 20 * label, dtype=np.int64)
                noise = rng.integers(0, 40, size=(32, 32, 3))
                Image.fromarray((base + noise).astype(np.uint8)).save(folder / f"{i:04d}.png")
    return root
