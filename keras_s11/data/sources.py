"""CIFAR-10 sources: tfds, class folders, and the official python archive."""

import logging
import os
import socket
import tarfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.data.safe_pickle import safe_loads
from keras_s11.data.subset import random_subset, subset_indices

IMAGE_SHAPE = (32, 32, 3)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_TFDS_HOSTS = (("storage.googleapis.com", 443), ("www.cs.toronto.edu", 443))


class DataError(ValueError):
    """Raised when a data source is missing, incomplete or malformed."""


def load_cifar10(data_dir=None, class_names=CIFAR10_CLASSES, *, limit_train=None, limit_test=None, seed=0):
    """Loads CIFAR-10 as uint8 arrays from whichever source `data_dir` holds.

    Args:
        data_dir: `None` to use tensorflow-datasets (downloads on first use);
            a folder with `train/<class>/` and `test/<class>/` image folders;
            a `cifar-10-batches-py` folder (or a folder containing one); or the
            official `cifar-10-python.tar.gz` archive.
        class_names: Class folder names in label order (folder source only).
        limit_train: Keep a seeded random subset of this many training
            images (`None`: all), as `scripts/train.py --limit-train`. From
            class folders only the kept images are decoded.
        limit_test: The same for the test images (`--limit-test`).
        seed: Seed of the subsets; the same arguments always give the same
            images, in their original order.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: images as uint8 arrays of
        shape `(N, 32, 32, 3)`, labels as int32 arrays of shape `(N,)`.

    Raises:
        DataError: If the source is missing, incomplete or malformed.
        ValueError: If `limit_train` or `limit_test` is not a positive
            integer or `None`.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_cifar10("../shared/datasets/cifar10", limit_train=5000)
    >>> x_train.shape
    (5000, 32, 32, 3)
    """
    subset_indices(0, limit_train, name="limit_train")  # checks the arguments before any loading
    subset_indices(0, limit_test, name="limit_test")
    (x_train, y_train), (x_test, y_test) = _load(data_dir, class_names, limit_train, limit_test, seed)
    # Class folders decode only the subsets already; for them this keeps everything.
    return (
        random_subset(x_train, y_train, limit_train, seed, name="limit_train"),
        random_subset(x_test, y_test, limit_test, seed, name="limit_test"),
    )


def _load(data_dir, class_names, limit_train=None, limit_test=None, seed=0):
    """Both splits from whichever source `data_dir` holds; class folders decode only the subsets."""
    if data_dir is None:
        return load_tfds()
    data_dir = os.fspath(data_dir)
    if os.path.isfile(data_dir):
        if data_dir.endswith((".tar.gz", ".tgz", ".tar")):
            return load_cifar10_archive(data_dir)
        raise DataError(f"{data_dir} is a file but not a .tar.gz archive of CIFAR-10")
    if not os.path.isdir(data_dir):
        raise DataError(f"data folder {data_dir} does not exist")
    for candidate in (data_dir, os.path.join(data_dir, "cifar-10-batches-py")):
        if os.path.isfile(os.path.join(candidate, "data_batch_1")):
            return load_cifar10_batches(candidate)
    if os.path.isdir(os.path.join(data_dir, "train")):
        return (
            load_image_folder(os.path.join(data_dir, "train"), class_names, limit=limit_train, seed=seed),
            load_image_folder(os.path.join(data_dir, "test"), class_names, limit=limit_test, seed=seed),
        )
    raise DataError(
        f"{data_dir} holds no CIFAR-10: expected train/ and test/ class folders, "
        "a cifar-10-batches-py folder, or cifar-10-python.tar.gz"
    )


def load_cifar10_test(data_dir=None, class_names=CIFAR10_CLASSES):
    """Loads only the test split of CIFAR-10, as `load_cifar10` finds it.

    From class folders only `test/` is decoded; the other sources hold both
    splits in the same files, which are read whole.

    Args:
        data_dir: As in `load_cifar10`.
        class_names: Class folder names in label order (folder source only).

    Returns:
        `(x_test, y_test)`: uint8 `(N, 32, 32, 3)` and int32 `(N,)`.

    Raises:
        DataError: If the source is missing, incomplete or malformed.
    """
    if data_dir is not None and os.path.isdir(os.path.join(os.fspath(data_dir), "test")):
        if not os.path.isfile(os.path.join(os.fspath(data_dir), "data_batch_1")):
            return load_image_folder(os.path.join(os.fspath(data_dir), "test"), class_names)
    return load_cifar10(data_dir, class_names)[1]


def _read_image(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"cannot decode image {path}: {error}") from None
    if array.shape != IMAGE_SHAPE:
        raise DataError(f"image {path} is {array.shape[1]}x{array.shape[0]}, expected 32x32 RGB")
    return array


def load_image_folder(folder, class_names=CIFAR10_CLASSES, limit=None, seed=0):
    """Loads `folder/<class>/*.{jpg,png}` as uint8 arrays.

    Args:
        folder: A folder with exactly one sub-folder per class.
        class_names: Sub-folder names in label order.
        limit: Decode only a seeded random subset of this many images
            (`None`: all); the same subset as `random_subset` draws from
            the whole folder.
        seed: Seed of the subset.

    Returns:
        `(images, labels)`: uint8 `(N, 32, 32, 3)` and int32 `(N,)`.

    Raises:
        DataError: If the folder or a class folder is missing or empty, an
            unexpected folder or a file that is not an image (by its
            extension; hidden files are skipped) is present, or an image is
            corrupt or not 32x32.
    """
    if not os.path.isdir(folder):
        raise DataError(f"data folder {folder} does not exist")
    present = sorted(e for e in os.listdir(folder) if os.path.isdir(os.path.join(folder, e)))
    missing = [c for c in class_names if c not in present]
    extra = [c for c in present if c not in class_names]
    if missing or extra:
        details = []
        if missing:
            details.append(f"missing class folders {missing}")
        if extra:
            details.append(f"unexpected folders {extra}")
        raise DataError(f"{folder}: {'; '.join(details)} (expected {list(class_names)})")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(folder, name)
        entries = sorted(e for e in os.listdir(class_dir) if not e.startswith("."))  # skip hidden files
        strays = [e for e in entries if not e.lower().endswith(IMAGE_EXTENSIONS)]
        if strays:
            raise DataError(
                f"class folder {class_dir} holds {len(strays)} file(s) that are not images, e.g. {strays[0]!r} "
                f"(expected {'/'.join(IMAGE_EXTENSIONS)} files only)"
            )
        files = entries
        if not files:
            raise DataError(f"class folder {class_dir} holds no images")
        paths.extend(os.path.join(class_dir, f) for f in files)
        labels.extend([label] * len(files))
    keep = subset_indices(len(paths), limit, seed)
    paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        images = list(pool.map(_read_image, paths, chunksize=256))
    return np.stack(images), np.asarray(labels, dtype=np.int32)


def _decode_batch(blob, name):
    try:
        batch = safe_loads(blob)
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int32)
    except (KeyError, TypeError, EOFError, ValueError) as error:
        raise DataError(f"{name} is not a CIFAR-10 batch file: {error!r}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{name} holds data of shape {data.shape}, expected (N, 3072)")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _assemble(read, names):
    parts = [_decode_batch(read(name), name) for name in names]
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
    )


def load_cifar10_batches(folder):
    """Loads the official `cifar-10-batches-py` folder with a safe unpickler.

    Args:
        folder: The folder holding `data_batch_1..5` and `test_batch`.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as in `load_cifar10`.

    Raises:
        DataError: If a batch file is missing or malformed.
        UnsafePickleError: If a file asks to run anything.
    """

    def read(name):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise DataError(f"CIFAR-10 batch file {path} is missing")
        with open(path, "rb") as f:
            return f.read()

    return _assemble(read, _TRAIN_BATCHES), _assemble(read, ("test_batch",))


def load_cifar10_archive(path):
    """Loads `cifar-10-python.tar.gz` without extracting it to disk.

    Args:
        path: Path of the official archive.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as in `load_cifar10`.

    Raises:
        DataError: If the archive is unreadable or lacks a batch file.
        UnsafePickleError: If a batch file asks to run anything.
    """
    try:
        with tarfile.open(path) as archive:
            members = {os.path.basename(m.name): m for m in archive.getmembers() if m.isfile()}

            def read(name):
                if name not in members:
                    raise DataError(f"archive {path} has no {name}")
                return archive.extractfile(members[name]).read()

            return _assemble(read, _TRAIN_BATCHES), _assemble(read, ("test_batch",))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"cannot read archive {path}: {error}") from None


def _reachable(hosts, timeout):
    for host, port in hosts:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return True
        except OSError:
            continue
    return False


def load_tfds(tfds_data_dir=None, timeout=5.0):
    """Loads CIFAR-10 through tensorflow-datasets.

    When the data set is not yet prepared locally and its download hosts are
    unreachable, fails within `timeout` seconds instead of tfds's own minutes
    of retries.

    Args:
        tfds_data_dir: tfds's data folder (default: tfds's own default).
        timeout: Seconds to wait for a download host to answer.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as in `load_cifar10`.

    Raises:
        DataError: If the data set is not prepared and cannot be downloaded.
    """
    import tensorflow_datasets as tfds

    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # "no dataset_info.json" is expected before the download
    try:
        builder = tfds.builder("cifar10", data_dir=tfds_data_dir)
        prepared = builder.is_prepared()
    finally:
        absl_logger.setLevel(level)
    if not prepared:
        if not _reachable(_TFDS_HOSTS, timeout):
            raise DataError(
                "CIFAR-10 is not downloaded and its hosts are unreachable (offline?); "
                "pass --data-dir with class folders, cifar-10-batches-py or its .tar.gz"
            )
        builder.download_and_prepare()
    splits = []
    for split in ("train", "test"):
        dataset = builder.as_dataset(split=split, as_supervised=True).batch(10_000)
        batches = list(tfds.as_numpy(dataset))
        images = np.concatenate([b[0] for b in batches]).astype(np.uint8)
        labels = np.concatenate([b[1] for b in batches]).astype(np.int32)
        splits.append((images, labels))
    return tuple(splits)
