import os
import pickle
import tarfile
import time

import numpy as np
import pytest
from PIL import Image

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.data import DataError, UnsafePickleError, load_cifar10, safe_loads, sources


def test_class_folders_load_in_cifar10_label_order(image_folder):
    (x_train, y_train), (x_test, y_test) = load_cifar10(image_folder)
    assert x_train.shape == (120, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (40, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(y_train), [12] * 10)
    expected = np.asarray(Image.open(image_folder / "train" / "cat" / "0003.png"))
    np.testing.assert_array_equal(x_train[3 * 12 + 3], expected)
    assert y_train[3 * 12 + 3] == CIFAR10_CLASSES.index("cat") == 3


def write_batches(folder, per_batch=6, protocol=2):
    """A miniature cifar-10-batches-py folder in the official format."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        batches[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump(
                {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"x.png"] * per_batch},
                f,
                protocol=protocol,
            )
    return batches


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar10_batches_folder(tmp_path, protocol):
    batches = write_batches(tmp_path / "cifar-10-batches-py", protocol=protocol)
    (x_train, y_train), (x_test, y_test) = load_cifar10(tmp_path)  # the parent folder works too
    assert x_train.shape == (30, 32, 32, 3) and x_test.shape == (6, 32, 32, 3)
    data, labels = batches["data_batch_2"]
    # The format stores each image as 1024 red, then green, then blue values.
    np.testing.assert_array_equal(x_train[6], data[0].reshape(3, 32, 32).transpose(1, 2, 0))
    np.testing.assert_array_equal(y_train[6:12], labels)


def test_cifar10_archive(tmp_path):
    write_batches(tmp_path / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    (x_train, _), (x_test, y_test) = load_cifar10(archive)
    (ref_train, _), (_, ref_y_test) = load_cifar10(tmp_path / "cifar-10-batches-py")
    np.testing.assert_array_equal(x_train, ref_train)
    np.testing.assert_array_equal(y_test, ref_y_test)
    (tmp_path / "broken.tar.gz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read archive"):
        load_cifar10(tmp_path / "broken.tar.gz")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_batches(tmp_path / "cifar-10-batches-py")
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "wb") as f:
        pickle.dump({b"data": _Exploit(), b"labels": []}, f, protocol=2)
    with pytest.raises(UnsafePickleError, match="system"):
        load_cifar10(tmp_path / "cifar-10-batches-py")
    assert not (tmp_path / "pwned").exists()


def test_safe_loads_accepts_plain_data():
    value = {b"labels": [1, 2], b"name": "x", b"data": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    loaded = safe_loads(pickle.dumps(value, protocol=2))
    np.testing.assert_array_equal(loaded[b"data"], value[b"data"])
    assert loaded[b"labels"] == [1, 2]


def test_tfds_offline_fails_fast_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "_reachable", lambda hosts, timeout: False)
    start = time.time()
    with pytest.raises(DataError, match="--data-dir"):
        sources.load_tfds(tfds_data_dir=str(tmp_path))
    assert time.time() - start < 30


def test_tfds_path_returns_uint8_arrays(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(sources, "_reachable", lambda hosts, timeout: True)
    with tfds.testing.mock_data(num_examples=7):
        (x_train, y_train), (x_test, y_test) = sources.load_tfds(tfds_data_dir=str(tmp_path))
    assert x_train.shape == (7, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.dtype == np.int32 and x_test.shape == (7, 32, 32, 3)


def test_subset_option_of_class_folders_decodes_only_the_kept_images(image_folder, monkeypatch):
    (x_all, y_all), (x_test_all, y_test_all) = load_cifar10(image_folder)
    decoded = []
    read_images = sources.read_images
    monkeypatch.setattr(sources, "read_images", lambda paths, **kw: decoded.extend(paths) or read_images(paths, **kw))
    (x_train, y_train), (x_test, y_test) = load_cifar10(image_folder, limit_train=25, limit_test=7, seed=3)
    assert len(decoded) == 25 + 7
    # The subset train.py's --limit-train has always drawn: sorted first `limit` of a seeded permutation.
    keep_train = np.sort(np.random.default_rng(3).permutation(120)[:25])
    keep_test = np.sort(np.random.default_rng(3).permutation(40)[:7])
    np.testing.assert_array_equal(x_train, x_all[keep_train])
    np.testing.assert_array_equal(y_train, y_all[keep_train])
    np.testing.assert_array_equal(x_test, x_test_all[keep_test])
    np.testing.assert_array_equal(y_test, y_test_all[keep_test])
    (again, _), _ = load_cifar10(image_folder, limit_train=25, seed=3)
    (other, _), (whole_test, _) = load_cifar10(image_folder, limit_train=25, seed=4)
    np.testing.assert_array_equal(again, x_train)
    assert not np.array_equal(other, x_train)
    assert len(whole_test) == 40  # limit_test None: every test image


def test_subset_option_of_the_batches_and_limits_past_the_size(tmp_path):
    from keras_s11.data import random_subset

    write_batches(tmp_path / "cifar-10-batches-py")
    (x_all, y_all), test_all = load_cifar10(tmp_path)
    (x_train, y_train), test = load_cifar10(tmp_path, limit_train=10, limit_test=100, seed=1)
    keep = np.sort(np.random.default_rng(1).permutation(30)[:10])
    np.testing.assert_array_equal(x_train, x_all[keep])
    np.testing.assert_array_equal(y_train, y_all[keep])
    np.testing.assert_array_equal(test[0], test_all[0])  # 100 > 6 test images: all kept
    assert random_subset(x_all, y_all, 10, seed=1)[0].tolist() == x_train.tolist()


@pytest.mark.parametrize(
    "limits, message", [({"limit_train": 0}, "limit_train=0"), ({"limit_test": 2.5}, "limit_test=2.5")]
)
def test_subset_option_refuses_a_limit_that_is_not_a_positive_integer(tmp_path, limits, message):
    with pytest.raises(ValueError, match=f"must be a positive integer or None. Received: {message}"):
        load_cifar10(tmp_path / "does-not-matter", **limits)  # checked before any loading


def batch_file(entries):
    """A batch file of 4 images with `entries` replacing (None: removing) the official ones."""
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 9]}
    batch.update(entries)
    return pickle.dumps({k: v for k, v in batch.items() if v is not None}, protocol=2)


@pytest.mark.parametrize(
    "entries, message",
    [
        ({b"labels": [0, 1, 2, 10]}, "its labels must be in 0..9, but 1 of 4 are not (e.g. 10)"),
        ({b"labels": [0, 1, True, 3]}, "its labels are not a list of integers"),
        ({b"labels": [0.0, 1.0, 2.0, 3.0]}, "its labels are not a list of integers"),
        ({b"labels": np.zeros(4, np.float64)}, "its labels are an array of dtype float64 and shape (4,)"),
        ({b"labels": np.zeros((4, 1), np.int64)}, "its labels are an array of dtype int64 and shape (4, 1)"),
        ({b"data": np.zeros((4, 3072), np.int64)}, "its data is an array of dtype int64, expected a uint8"),
        ({b"data": np.zeros((4, 3072), object)}, "its data is an array of dtype object, expected a uint8"),
        ({b"data": [[0] * 3072] * 4}, "its data is a list, expected a uint8 numpy array"),
        ({b"data": np.zeros((4, 32, 32, 3), np.uint8)}, "its data has shape (4, 32, 32, 3), expected (N, 3072)"),
        ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, "its data has shape (0, 3072)"),
        ({b"labels": [0, 1, 2]}, "it has 3 labels for 4 images"),
        ({b"labels": None}, "it has no b'labels' entry (its keys: b'data')"),
    ],
)
def test_a_malformed_batch_file_is_refused_naming_the_file(tmp_path, entries, message):
    write_batches(tmp_path / "b")
    (tmp_path / "b" / "data_batch_4").write_bytes(batch_file(entries))
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path / "b")
    assert str(info.value).startswith(f"{tmp_path / 'b' / 'data_batch_4'} is not a CIFAR-10 batch file: {message}")


def test_batch_files_pickled_under_python_3_and_label_arrays_are_accepted(tmp_path):
    write_batches(tmp_path / "b")
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    with open(tmp_path / "b" / "test_batch", "wb") as f:  # str keys, labels as an int64 array
        pickle.dump({"data": data, "labels": np.array([3, 7])}, f, protocol=4)
    _, (x_test, y_test) = load_cifar10(tmp_path / "b")
    np.testing.assert_array_equal(y_test, [3, 7])
    assert y_test.dtype == np.int32
    np.testing.assert_array_equal(x_test[1], data[1].reshape(3, 32, 32).transpose(1, 2, 0))


def test_the_refused_pickle_is_a_data_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_batches(tmp_path / "b")
    (tmp_path / "b" / "test_batch").write_bytes(pickle.dumps({b"data": _Exploit()}, protocol=2))
    with pytest.raises(DataError, match=r"^.*test_batch: refusing to load `posix.system`") as info:
        load_cifar10(tmp_path / "b")
    assert isinstance(info.value, UnsafePickleError) and isinstance(info.value, pickle.UnpicklingError)
    assert not (tmp_path / "pwned").exists()


def test_a_data_dir_that_is_a_fifo_is_named(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(DataError, match="is neither a folder nor an archive of CIFAR-10"):
        load_cifar10(tmp_path / "fifo")
