"""CIFAR-10 sources: tfds, class folders, and the official python archive."""

import logging
import lzma
import os
import posixpath
import socket
import stat
import tarfile
import zlib

import numpy as np

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.cli import describe_error, first_line
from keras_s11.data.errors import DataError
from keras_s11.data.safe_pickle import UnsafePickleError, safe_loads
from keras_s11.data.subset import random_subset, subset_indices
from keras_s11.image_file import ImageError, read_image, read_images

IMAGE_SHAPE = (32, 32, 3)
_NUM_CLASSES = len(CIFAR10_CLASSES)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
ARCHIVE_EXTENSIONS = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
_TFDS_HOSTS = (("storage.googleapis.com", 443), ("www.cs.toronto.edu", 443))


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
        if data_dir.endswith(ARCHIVE_EXTENSIONS):
            return load_cifar10_archive(data_dir)
        raise DataError(f"{data_dir} is a file but not a .tar.gz archive of CIFAR-10")
    if not os.path.exists(data_dir):
        raise DataError(f"data folder {data_dir} does not exist")
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir} is neither a folder nor an archive of CIFAR-10")
    for candidate in (data_dir, os.path.join(data_dir, "cifar-10-batches-py")):
        if os.path.lexists(os.path.join(candidate, "data_batch_1")):
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
        if not os.path.lexists(os.path.join(os.fspath(data_dir), "data_batch_1")):
            return load_image_folder(os.path.join(os.fspath(data_dir), "test"), class_names)
    return load_cifar10(data_dir, class_names)[1]


def _read_image(path):
    """One image of a class folder as uint8 `(32, 32, 3)` (other modes converted to RGB)."""
    try:
        return read_image(path, convert=True)
    except ImageError as error:
        raise DataError(str(error)) from None


def _listdir(folder):
    try:
        return os.listdir(folder)
    except OSError as error:
        raise DataError(f"cannot list data folder {folder}: {error.strerror or error}") from None


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
        DataError: If the folder or a class folder is missing, unreadable or
            empty, an unexpected folder or a file that is not an image (by
            its extension; hidden files are skipped) is present, or an image
            is corrupt, not a regular file, not 32x32, or a decompression
            bomb (refused from its header, before decoding).
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataError(f"data folder {folder} does not exist")
    present = sorted(e for e in _listdir(folder) if os.path.isdir(os.path.join(folder, e)))
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
        entries = sorted(e for e in _listdir(class_dir) if not e.startswith("."))  # skip hidden files
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
    try:
        images = read_images(paths, convert=True)
    except ImageError as error:
        raise DataError(str(error)) from None
    return images, np.asarray(labels, dtype=np.int32)


_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_BATCH_FILES = (*_TRAIN_BATCHES, "test_batch")
# An official batch file is 31 MB (10,000 images); anything much larger is refused before it is read.
MAX_BATCH_BYTES = 256 * 2**20
# The official archive holds 8 entries; a tar of millions of tiny entries is refused while it is listed.
MAX_ARCHIVE_MEMBERS = 256


def _entry(batch, key):
    for candidate in (key.encode(), key):  # bytes keys as pickled under Python 2; str under Python 3
        if candidate in batch:
            return batch[candidate]
    keys = sorted(repr(k) for k in batch)[:8]
    raise ValueError(f"it has no {key.encode()!r} entry (its keys: {', '.join(keys) or 'none'})")


def _check_batch(batch, num_classes):
    """`(data, labels)` of an unpickled batch, or ValueError saying what is wrong with it."""
    if not isinstance(batch, dict):
        raise ValueError(f"it holds a {type(batch).__name__}, expected a dict")
    data, labels = _entry(batch, "data"), _entry(batch, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = f"an array of dtype {data.dtype}" if isinstance(data, np.ndarray) else f"a {type(data).__name__}"
        raise ValueError(f"its data is {kind}, expected a uint8 numpy array")
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] == 0:
        raise ValueError(f"its data has shape {data.shape}, expected (N, 3072) with N > 0")
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(
                f"its labels are an array of dtype {labels.dtype} and shape {labels.shape}, expected N integers"
            )
    elif not isinstance(labels, list) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels
    ):
        raise ValueError("its labels are not a list of integers")
    if len(labels) != len(data):
        raise ValueError(f"it has {len(labels)} labels for {len(data)} images")
    labels = np.asarray(labels)
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(
            f"its labels must be in 0..{num_classes - 1}, but {int(bad.sum())} of {len(labels)} are not "
            f"(e.g. {int(labels[bad.argmax()])})"
        )
    return data, labels.astype(np.int32)


def _decode_batch(blob, name, num_classes=_NUM_CLASSES):
    """Images `(N, 32, 32, 3)` and labels `(N,)` of one batch file's bytes; `name` is used in errors."""
    try:
        batch = safe_loads(blob)
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{name}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a hostile pickle can raise nearly any type
        raise DataError(
            f"{name} is not a CIFAR-10 batch file (not a pickle it can read: {describe_error(error, 200)})"
        ) from None
    try:
        data, labels = _check_batch(batch, num_classes)
    except ValueError as error:
        raise DataError(f"{name} is not a CIFAR-10 batch file: {error}") from None
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def _assemble(parts):
    return (
        np.concatenate([parts[name][0] for name in _TRAIN_BATCHES]),
        np.concatenate([parts[name][1] for name in _TRAIN_BATCHES]),
    ), parts["test_batch"]


def _read_batch_file(path):
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"CIFAR-10 batch file {path} is missing") from None
    except OSError as error:
        raise DataError(f"cannot read CIFAR-10 batch file {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{path} is a folder, not a CIFAR-10 batch file")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path} is not a regular file (a device, FIFO or socket), not a CIFAR-10 batch file")
    if info.st_size > MAX_BATCH_BYTES:
        raise DataError(
            f"{path} is {info.st_size:,} bytes, more than a CIFAR-10 batch file holds ({MAX_BATCH_BYTES:,} at most)"
        )
    try:
        with open(path, "rb") as f:
            return f.read(MAX_BATCH_BYTES + 1)
    except OSError as error:
        raise DataError(f"cannot read CIFAR-10 batch file {path}: {error.strerror or error}") from None


def load_cifar10_batches(folder):
    """Loads the official `cifar-10-batches-py` folder with a safe unpickler.

    Args:
        folder: The folder holding `data_batch_1..5` and `test_batch`.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as in `load_cifar10`.

    Raises:
        DataError: If a batch file is missing, unreadable, too large, not a
            pickle, or not in the format (a dict with `data`, uint8
            `(N, 3072)`, and `labels`, N integers in 0..9); the message
            names the file.
        UnsafePickleError: (a `DataError`) If a file asks to run anything.
    """
    folder = os.fspath(folder)
    parts = {}
    for name in _BATCH_FILES:
        path = os.path.join(folder, name)
        parts[name] = _decode_batch(_read_batch_file(path), path)
    return _assemble(parts)


def _member_kind(member):
    if member.isdir():
        return "a folder"
    if member.issym() or member.islnk():
        return f"a link to {member.linkname!r}"
    return "a device or FIFO entry"


def _archive_batches(archive, path):
    """Decodes the batch files of an open tar archive in one pass, in archive order."""
    parts = {}
    for count, member in enumerate(archive, 1):
        if count > MAX_ARCHIVE_MEMBERS:
            raise DataError(
                f"archive {path} holds more than {MAX_ARCHIVE_MEMBERS} entries; the CIFAR-10 archive holds 8"
            )
        name = posixpath.basename(member.name.rstrip("/"))
        if member.size > MAX_BATCH_BYTES:
            raise DataError(
                f"archive {path}: {member.name} declares {member.size:,} bytes, more than a CIFAR-10 "
                f"batch file holds ({MAX_BATCH_BYTES:,} at most)"
            )
        if name not in _BATCH_FILES:
            continue
        if name in parts:
            raise DataError(f"archive {path} holds {name} twice; which one is meant is unclear")
        if not member.isfile():
            raise DataError(f"archive {path}: {member.name} is {_member_kind(member)}, not a CIFAR-10 batch file")
        parts[name] = _decode_batch(archive.extractfile(member).read(), f"{member.name} in archive {path}")
    missing = [name for name in _BATCH_FILES if name not in parts]
    if missing:
        nor = f" (nor {', '.join(missing[1:])})" if missing[1:] else ""
        raise DataError(f"archive {path} has no {missing[0]}{nor}")
    return parts


def load_cifar10_archive(path):
    """Loads `cifar-10-python.tar.gz` without extracting it to disk.

    The archive is read in one pass; any entry larger than a batch file can
    be, and an archive of more than `MAX_ARCHIVE_MEMBERS` entries, is refused
    before it is decompressed.

    Args:
        path: Path of the official archive (`.tar.gz`; `.tar`, `.tar.bz2`
            and `.tar.xz` work too).

    Returns:
        `((x_train, y_train), (x_test, y_test))` as in `load_cifar10`.

    Raises:
        DataError: If the file is not a tar archive, is truncated or
            damaged, lacks a batch file, holds one twice or as a link or
            folder, or a batch file is malformed (as in
            `load_cifar10_batches`); one line naming the file.
        UnsafePickleError: (a `DataError`) If a batch file asks to run anything.
    """
    path = os.fspath(path)
    try:
        archive = tarfile.open(path)
    except tarfile.ReadError:  # its message lists every compression tried, on several lines
        raise DataError(f"cannot read archive {path}: it is not a tar archive (plain, gzip, bzip2 or xz)") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        raise DataError(f"cannot read archive {path}: {first_line(error)}") from None
    try:
        with archive:
            return _assemble(_archive_batches(archive, path))
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        raise DataError(f"cannot read archive {path} (truncated or damaged?): {first_line(error)}") from None


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
