"""The bad-input matrix: each bad input gives one `error:` line, a non-zero exit, and loses nothing.

Every row names a command, its arguments, what to break first, and a piece
of the expected message. Rows run in-process (`main(argv)` with captured
stderr) when the error comes before TensorFlow starts, which is nearly all
of them; rows marked `subprocess` run the real script in a child process,
and rows marked `no_tensorflow` run it in a child process where importing
TensorFlow or Keras fails, which proves the check comes before them. After
every row the whole temporary folder (the data, an earlier run in the
output folder, any model file) must be as it was: nothing written, nothing
lost, no code of a hostile pickle run.

Every hostile file is built inside the test: CIFAR-10 batch files and
archives in the official format with one thing wrong, images that claim
billions of pixels, folders and FIFOs where files belong.
"""

import dataclasses
import hashlib
import importlib.util
import io
import json
import os
import pickle
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = {
    name: os.path.join(ROOT, "scripts", f"{name}.py") for name in ("train", "predict", "evaluate", "export", "draw_clr")
}
TRAIN_OK = ["--data-dir", "{data}", "--out-dir", "{out}", "--run-name", "new", "--width", "4", "--batch-size", "32"]
# Runs a script with TensorFlow and Keras made unimportable: an error that comes first needs neither.
WITHOUT_TENSORFLOW = (
    "import runpy, sys\n"
    "sys.modules['tensorflow'] = sys.modules['keras'] = None\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


@dataclasses.dataclass
class Row:
    id: str
    script: str  # a key of SCRIPTS
    args: list  # "{data}", "{out}" and "{tmp}" are filled in
    message: str  # must appear in the error line
    setup: object = None  # setup(tmp_path): breaks something first
    code: int = None  # expected exit status (None: any non-zero)
    subprocess: bool = False
    env: dict = dataclasses.field(default_factory=dict)
    no_tensorflow: bool = False  # a subprocess in which importing TensorFlow or Keras fails


def train(message, *args, setup=None, code=2, **kwargs):
    """A train.py row: valid arguments, then `args` (later flags win)."""
    return Row(message, "train", [*TRAIN_OK, *args], message, setup, code, **kwargs)


def script(name, message, *args, setup=None, code=None, **kwargs):
    """A row of another script: exactly `args`."""
    return Row(f"{message}-{'-'.join(args)}"[:80], name, list(args), message, setup, code, **kwargs)


# --- ways to break the data and the output folder -------------------------------------------


def corrupt_jpeg(tmp):
    (tmp / "data" / "train" / "bird" / "0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")


def truncated_jpeg(tmp):
    path = tmp / "data" / "train" / "bird" / "0003.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def wrong_size(tmp):
    Image.new("RGB", (64, 48)).save(tmp / "data" / "train" / "frog" / "0001.png")


def missing_class(tmp):
    shutil.rmtree(tmp / "data" / "train" / "dog")


def extra_class(tmp):
    shutil.copytree(tmp / "data" / "train" / "cat", tmp / "data" / "train" / "doggo")


def empty_class(tmp):
    for path in (tmp / "data" / "test" / "ship").iterdir():
        path.unlink()


def non_image_file(tmp):
    (tmp / "data" / "train" / "cat" / "notes.txt").write_text("labels are in the folder names")


def empty_folder(tmp):
    (tmp / "empty").mkdir()


def file_not_folder(tmp):
    (tmp / "not-a-folder").write_text("x")


def read_only_out(tmp):
    os.chmod(tmp / "out", 0o555)


def interrupted_run_with_other_flags(tmp):
    partial = tmp / "out" / ".other.partial"
    (partial / "backup").mkdir(parents=True)
    (partial / "config.json").write_text(json.dumps({"width": 8, "lr_min_used": 0.01, "lr_max_used": 0.1}))
    (partial / "backup" / "state.json").write_text(json.dumps({"epoch": 3, "model_file": "epoch-0003.keras"}))


def damaged_backup(tmp):
    """An interrupted run whose backup model was cut short (the disk filled up, say)."""
    partial = tmp / "out" / ".other.partial"
    (partial / "backup").mkdir(parents=True)
    (partial / "config.json").write_text("{}")
    (partial / "backup" / "state.json").write_text(json.dumps({"epoch": 1, "model_file": "epoch-0001.keras"}))
    with zipfile.ZipFile(partial / "backup" / "whole.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", "w" * 5000)
    whole = (partial / "backup" / "whole.keras").read_bytes()
    (partial / "backup" / "whole.keras").unlink()
    (partial / "backup" / "epoch-0001.keras").write_bytes(whole[: len(whole) // 2])


def not_a_model(tmp):
    (tmp / "notes.txt").write_text("hello")
    (tmp / "fake.keras").write_bytes(b"not a zip")
    (tmp / "folder.keras").mkdir()
    with zipfile.ZipFile(tmp / "damaged.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
    with zipfile.ZipFile(tmp / "other.keras", "w") as archive:
        archive.writestr("weights.bin", "x" * 1000)
    complete = (tmp / "other.keras").read_bytes()
    (tmp / "truncated.keras").write_bytes(complete[: len(complete) // 2])
    (tmp / "export" / "saved_model").mkdir(parents=True)
    (tmp / "export" / "saved_model" / "saved_model.pb").write_bytes(b"\x08\x01")
    (tmp / "export" / "model.onnx").write_bytes(b"not really onnx")


# --- hostile CIFAR-10 batch files and archives ----------------------------------------------

BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


class _Exploit:
    """Unpickled, it would run `touch PATH`: the loader must refuse it, not run it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def batch_bytes(images=8, labels=None, data=None, seed=0, **entries):
    """A batch file's bytes in the official format (Python 2 style: bytes keys), with overrides."""
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"a batch",
        b"data": rng.integers(0, 256, (images, 3072), dtype=np.uint8) if data is None else data,
        b"labels": [int(v) for v in rng.integers(0, 10, images)] if labels is None else labels,
        b"filenames": [b"x.png"] * images,
    }
    batch.update(entries)
    return pickle.dumps(batch, protocol=2)


def write_batches(folder, **replace):
    """A cifar-10-batches-py folder of 8 images a batch; `replace` maps a file name to its bytes."""
    folder.mkdir(parents=True)
    for i, name in enumerate(BATCHES):
        (folder / name).write_bytes(replace.get(name, batch_bytes(seed=i)))


def batches_with(name, content):
    """A setup: a batches folder at {tmp}/batches whose file `name` is `content(tmp)`."""

    def setup(tmp):
        write_batches(tmp / "batches", **{name: content(tmp)})

    return setup


def batches_where(name, make):
    """A setup: a batches folder whose entry `name` is made by `make(path)` (a folder, a FIFO...)."""

    def setup(tmp):
        write_batches(tmp / "batches")
        (tmp / "batches" / name).unlink()
        make(tmp / "batches" / name)

    return setup


def sparse_file(size):
    def make(path):
        with open(path, "wb") as f:
            f.truncate(size)  # no blocks written: a huge file that costs nothing

    return make


def write_archive(path, members, mode="w:gz"):
    """A tar archive of `(name, kind, payload)`: kind "file" (bytes), "dir", "link" (target) or "huge" (size)."""
    with tarfile.open(path, mode) as archive:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                archive.addfile(info)


def good_members(**replace):
    return [(f"cifar-10-batches-py/{n}", "file", replace.get(n, batch_bytes(seed=i))) for i, n in enumerate(BATCHES)]


def archive_of(members):
    """A setup: {tmp}/cifar.tar.gz holding `members(tmp)`."""

    def setup(tmp):
        write_archive(tmp / "cifar.tar.gz", members(tmp))

    return setup


def truncated_archive(tmp):
    write_archive(tmp / "whole.tar.gz", good_members())
    whole = (tmp / "whole.tar.gz").read_bytes()
    (tmp / "whole.tar.gz").unlink()
    (tmp / "cifar.tar.gz").write_bytes(whole[: len(whole) // 2])


def not_an_archive(tmp):
    (tmp / "cifar.tar.gz").write_bytes(np.random.default_rng(0).bytes(4096))


def huge_member(tmp):
    """A plain tar whose only header declares a 10 GiB batch file (and holds none of it)."""
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = 10 * 2**30
    (tmp / "cifar.tar").write_bytes(info.tobuf())


# --- hostile images -------------------------------------------------------------------------


def png_claiming(path, width, height):
    """A PNG whose header claims `width` x `height` pixels and whose data is a few bytes."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def bomb_in_class_folder(width, height):
    def setup(tmp):
        png_claiming(tmp / "data" / "train" / "cat" / "0000.png", width, height)

    return setup


def folder_in_class_folder(tmp):
    (tmp / "data" / "test" / "dog" / "0100.png").mkdir()


def fifo_in_class_folder(tmp):
    os.mkfifo(tmp / "data" / "train" / "ship" / "0100.png")


def serving_files(tmp):
    """What scripts/predict.py is given: images good and hostile, and paths that are not ONNX models."""
    not_a_model(tmp)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp / "ok.png")
    png_claiming(tmp / "bomb.png", 20000, 20000)
    png_claiming(tmp / "big.png", 10000, 10000)  # over Pillow's warning limit, under its error limit
    (tmp / "cut.png").write_bytes((tmp / "ok.png").read_bytes()[:60])
    (tmp / "images").mkdir()
    (tmp / "fake.onnx").write_bytes(b"not an onnx protobuf")


ROWS = [
    # Data.
    train("cannot decode image", "--data-dir", "{data}", setup=corrupt_jpeg, code=1),
    train("0003.jpg", setup=truncated_jpeg, code=1),
    train("is 64x48 RGB, expected 32x32 RGB", setup=wrong_size, code=1),
    train("missing class folders ['dog']", setup=missing_class, code=1),
    train("unexpected folders ['doggo']", setup=extra_class, code=1),
    train("ship holds no images", setup=empty_class, code=1),
    train("not images, e.g. 'notes.txt'", setup=non_image_file, code=1),
    train("holds no CIFAR-10", "--data-dir", "{tmp}/empty", setup=empty_folder, code=1),
    train("data folder {tmp}/nowhere does not exist", "--data-dir", "{tmp}/nowhere", code=1),
    train("is a file but not a .tar.gz", "--data-dir", "{tmp}/not-a-folder", setup=file_not_folder, code=1),
    train("120 training images are fewer than --batch-size 512", "--batch-size", "512", code=1),
    train("data folder {tmp}/nowhere does not exist", "--data-dir", "{tmp}/nowhere", code=1, subprocess=True),
    # Output folder and run name.
    train("is not writable", setup=read_only_out),
    train("is a file, not a folder", "--out-dir", "{tmp}/not-a-folder", setup=file_not_folder),
    train("already exists; choose another --run-name", "--run-name", "earlier"),
    train("--run-name must be a plain folder name", "--run-name", "../escape"),
    train("--run-name must be a plain folder name", "--run-name", ".hidden"),
    train("new has no interrupted run with a backup to resume", "--resume"),
    train(
        "the backup is damaged: {out}/.other.partial/backup/epoch-0001.keras is a damaged or truncated .keras file "
        "(its zip directory is missing); start again with --no-resume",
        "--run-name",
        "other",
        "--resume",
        setup=damaged_backup,
    ),
    Row(
        "resume-latest",
        "train",
        ["--data-dir", "{data}", "--out-dir", "{out}", "--resume"],
        "no interrupted run with a backup in",
        code=2,
    ),
    train("--width was 8 in the interrupted run, 4 now", "--run-name", "other", setup=interrupted_run_with_other_flags),
    train(
        "give --range-test-only another --run-name",
        "--run-name",
        "other",
        "--range-test-only",
        setup=interrupted_run_with_other_flags,
    ),
    # Strategies.
    train("argument --strategy: invalid choice: 'horovod'", "--strategy", "horovod"),
    train("--strategy multi-worker needs TF_CONFIG", "--strategy", "multi-worker"),
    train("TF_CONFIG is not valid JSON", "--strategy", "auto", env={"TF_CONFIG": "{cluster"}),
    train("no TPU found", "--strategy", "tpu", code=1, subprocess=True),
    # Every flag out of range.
    train("argument --batch-size: must be > 0, got 0", "--batch-size", "0"),
    train("argument --batch-size: must be > 0, got -5", "--batch-size", "-5"),
    train("argument --batch-size: expected a positive integer, got 'x'", "--batch-size", "x"),
    train("argument --epochs: must be > 0, got 0", "--epochs", "0"),
    train("argument --epochs: expected a positive integer, got 'two'", "--epochs", "two"),
    train("argument --peak-epoch: must be a finite number > 0, got 0.0", "--peak-epoch", "0"),
    train("--peak-epoch must be < --epochs", "--peak-epoch", "24", "--epochs", "24"),
    train("argument --lr-min: must be a finite number > 0, got 0.0", "--lr-min", "0"),
    train("argument --lr-max: must be a finite number > 0, got nan", "--lr-max", "nan"),
    train("argument --lr-max: must be a finite number > 0, got inf", "--lr-max", "inf"),
    train("--lr-min must be < --lr-max", "--lr-min", "0.4", "--lr-max", "0.04"),
    train("--momentum must be in [0, 1)", "--momentum", "1.5"),
    train("--momentum must be in [0, 1)", "--momentum", "-0.1"),
    train("--lookahead needs STEPS an integer >= 1 and 0 < FRACTION <= 1", "--lookahead", "2.5", "0.5"),
    train("--weight-decay must be >= 0", "--weight-decay", "-1"),
    train("--label-smoothing must be in [0, 1)", "--label-smoothing", "1"),
    train("--label-smoothing must be in [0, 1)", "--label-smoothing", "-0.1"),
    train("--ema-momentum must be in [0, 1)", "--ema-momentum", "1"),
    train("--ema-momentum must be in [0, 1)", "--ema-momentum", "-0.5"),
    train("--range-test-steps must be >= 2", "--range-test-steps", "1"),
    train("argument --range-test-steps: must be > 0, got 0", "--range-test-steps", "0"),
    train("--range-test-start must be < --range-test-end", "--range-test-start", "10", "--range-test-end", "1"),
    train("argument --range-test-start: must be a finite number > 0", "--range-test-start", "0"),
    train("argument --range-test-end: must be a finite number > 0", "--range-test-end", "-1"),
    train("--range-test-only runs the range test", "--range-test-only", "--lr-min", "0.1", "--lr-max", "1"),
    train("argument --limit-train: must be > 0, got 0", "--limit-train", "0"),
    train("argument --limit-test: must be > 0, got 0", "--limit-test", "0"),
    train("--limit-train (100) must be >= --batch-size (512)", "--limit-train", "100", "--batch-size", "512"),
    train("argument --width: must be > 0, got 0", "--width", "0"),
    train("argument --precision: invalid choice: 'fp8'", "--precision", "fp8"),
    train("argument --schedule: invalid choice: 'triangle'", "--schedule", "triangle"),
    train("argument --residual-init: invalid choice: 'he'", "--residual-init", "he"),
    train("argument --logit-scale: must be a finite number > 0, got 0.0", "--logit-scale", "0"),
    train("argument --verbose: invalid choice: 3", "--verbose", "3"),
    train("argument --seed: must be in 0..4294967295, got -1", "--seed", "-1"),
    train("unrecognized arguments: --fast", "--fast"),
    train("--peak-epoch must be < --epochs", "--peak-epoch", "24", "--epochs", "24", subprocess=True),
    # CIFAR-10 batch files: refused, unreadable or malformed pickles, each named.
    train(
        "data_batch_3: refusing to load `posix.system`",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("data_batch_3", lambda tmp: pickle.dumps({b"data": _Exploit(tmp / "pwned")}, protocol=2)),
        code=1,
    ),
    train(
        "data_batch_2 is not a CIFAR-10 batch file (not a pickle it can read",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("data_batch_2", lambda tmp: np.random.default_rng(1).bytes(5000)),
        code=1,
    ),
    train(
        "test_batch is not a CIFAR-10 batch file: its labels must be in 0..9, but 1 of 8 are not (e.g. 200)",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("test_batch", lambda tmp: batch_bytes(labels=[200, 1, 2, 3, 4, 5, 6, 7])),
        code=1,
    ),
    train(
        "data_batch_1 is not a CIFAR-10 batch file: its data is an array of dtype float32",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("data_batch_1", lambda tmp: batch_bytes(data=np.zeros((8, 3072), np.float32))),
        code=1,
    ),
    train(
        "data_batch_4 is not a CIFAR-10 batch file: its data has shape (8, 1024), expected (N, 3072)",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("data_batch_4", lambda tmp: batch_bytes(data=np.zeros((8, 1024), np.uint8))),
        code=1,
    ),
    train(
        "data_batch_5 is not a CIFAR-10 batch file: it has 7 labels for 8 images",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("data_batch_5", lambda tmp: batch_bytes(labels=[1] * 7)),
        code=1,
    ),
    train(
        "test_batch is not a CIFAR-10 batch file: it has no b'labels' entry (its keys: b'coarse_labels'",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_with("test_batch", lambda tmp: pickle.dumps({b"data": b"", b"coarse_labels": []})),
        code=1,
    ),
    train(
        "data_batch_2 is a folder, not a CIFAR-10 batch file",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_where("data_batch_2", os.mkdir),
        code=1,
    ),
    train(
        "data_batch_1 is not a regular file",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_where("data_batch_1", os.mkfifo),  # reading it would wait for ever
        code=1,
    ),
    train(
        "data_batch_3 is 314,572,800 bytes, more than a CIFAR-10 batch file holds",
        "--data-dir",
        "{tmp}/batches",
        setup=batches_where("data_batch_3", sparse_file(300 * 2**20)),
        code=1,
    ),
    # Archives: not one, cut short, or holding what no CIFAR-10 archive holds.
    train(
        "cannot read archive {tmp}/cifar.tar.gz: it is not a tar archive",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=not_an_archive,
        code=1,
    ),
    train(
        "cannot read archive {tmp}/cifar.tar.gz (truncated or damaged?)",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=truncated_archive,
        code=1,
    ),
    train(
        "cifar-10-batches-py/data_batch_1 in archive {tmp}/cifar.tar.gz: refusing to load `posix.system`",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(
            lambda tmp: good_members(data_batch_1=pickle.dumps({b"data": _Exploit(tmp / "pwned")}, protocol=2))
        ),
        code=1,
    ),
    train(
        "cifar-10-batches-py/test_batch in archive {tmp}/cifar.tar.gz is not a CIFAR-10 batch file: its labels",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(lambda tmp: good_members(test_batch=batch_bytes(labels=[-1] * 8))),
        code=1,
    ),
    train(
        "archive {tmp}/cifar.tar.gz: cifar-10-batches-py/test_batch is a link to '/etc/passwd'",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(lambda tmp: good_members()[:-1] + [("cifar-10-batches-py/test_batch", "link", "/etc/passwd")]),
        code=1,
    ),
    train(
        "archive {tmp}/cifar.tar.gz: data_batch_2 is a folder, not a CIFAR-10 batch file",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(lambda tmp: [("data_batch_2", "dir", None)] + good_members()),
        code=1,
    ),
    train(
        "archive {tmp}/cifar.tar.gz holds test_batch twice",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(lambda tmp: good_members() + [("elsewhere/test_batch", "file", batch_bytes())]),
        code=1,
    ),
    train(
        "archive {tmp}/cifar.tar.gz has no data_batch_5 (nor test_batch)",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(lambda tmp: good_members()[:4]),
        code=1,
    ),
    train(
        "archive {tmp}/cifar.tar.gz holds more than 256 entries",
        "--data-dir",
        "{tmp}/cifar.tar.gz",
        setup=archive_of(lambda tmp: [(f"junk/{i}", "file", b"") for i in range(300)]),
        code=1,
    ),
    train(
        "cifar-10-batches-py/data_batch_1 declares 10,737,418,240 bytes",
        "--data-dir",
        "{tmp}/cifar.tar",
        setup=huge_member,
        code=1,
    ),
    # Images in class folders: bombs (Pillow's error and warning ranges), a folder or a FIFO named .png.
    train("0000.png is refused as a possible decompression bomb", setup=bomb_in_class_folder(20000, 20000), code=1),
    train("0000.png is refused as a possible decompression bomb", setup=bomb_in_class_folder(10000, 10000), code=1),
    train("0100.png is a folder, not an image file", setup=folder_in_class_folder, code=1),
    train("0100.png is not a regular file", setup=fifo_in_class_folder, code=1),
    # scripts/predict.py: bombs with and without --resize, folders, paths that are not ONNX models.
    script(
        "predict",
        "{tmp}/bomb.png is refused as a possible decompression bomb",
        "{tmp}/bomb.png",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/bomb.png is refused as a possible decompression bomb",
        "{tmp}/bomb.png",
        "--resize",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/big.png is refused as a possible decompression bomb",
        "{tmp}/ok.png",
        "{tmp}/big.png",
        "--resize",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/big.png is refused as a possible decompression bomb",
        "{tmp}/big.png",
        "--resize",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
        no_tensorflow=True,
    ),
    script(
        "predict",
        "cannot decode image {tmp}/cut.png: image file is truncated",
        "{tmp}/cut.png",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/images is a folder, not an image file",
        "{tmp}/images",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/export/saved_model is a TensorFlow SavedModel folder, not an ONNX model file; "
        "use {tmp}/export/model.onnx",
        "{tmp}/ok.png",
        "--model",
        "{tmp}/export/saved_model",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/export is an export folder (it holds model.onnx), not an ONNX model file; use {tmp}/export/model.onnx",
        "{tmp}/ok.png",
        "--model",
        "{tmp}/export",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/other.keras is a Keras model file (a zip archive), not ONNX",
        "{tmp}/ok.png",
        "--model",
        "{tmp}/other.keras",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "model file {tmp}/missing.onnx does not exist",
        "{tmp}/ok.png",
        "--model",
        "{tmp}/missing.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "{tmp}/fake.onnx is not an ONNX model onnxruntime can load",
        "{tmp}/ok.png",
        "--model",
        "{tmp}/fake.onnx",
        setup=serving_files,
        code=1,
    ),
    script(
        "predict",
        "argument --top-k: must be <= 2147483647, got 99999999999",
        "{tmp}/ok.png",
        "--model",
        "{tmp}/fake.onnx",
        "--top-k",
        "99999999999",
        code=2,
    ),
    # A model file that is not a model: scripts/evaluate.py and scripts/export.py, checked before TensorFlow.
    *(
        script(name, message, "--model", model, *rest, setup=not_a_model, code=1)
        for name, rest in (("evaluate", ["--data-dir", "{data}"]), ("export", ["--out", "{tmp}/exported"]))
        for model, message in (
            ("{tmp}/missing.keras", "model file {tmp}/missing.keras does not exist"),
            ("{tmp}/notes.txt", "{tmp}/notes.txt is not a Keras model file"),
            ("{tmp}/fake.keras", "{tmp}/fake.keras is not a Keras model file"),
            ("{tmp}/folder.keras", "{tmp}/folder.keras is a folder, not a .keras model file"),
            ("{tmp}/export/saved_model", "saved_model is a TensorFlow SavedModel folder, not a .keras model file"),
            ("{tmp}/truncated.keras", "{tmp}/truncated.keras is a damaged or truncated .keras file"),
            ("{tmp}/other.keras", "{tmp}/other.keras is a zip archive but not a Keras model file (it has no config"),
        )
    ),
    script(
        "evaluate",
        "{tmp}/notes.txt is not a Keras model file",
        "--model",
        "{tmp}/notes.txt",
        setup=not_a_model,
        code=1,
        no_tensorflow=True,
    ),
    script(
        "export",
        "{tmp}/truncated.keras is a damaged or truncated .keras file",
        "--model",
        "{tmp}/truncated.keras",
        "--out",
        "{tmp}/exported",
        setup=not_a_model,
        code=1,
        no_tensorflow=True,
    ),
    script(
        "evaluate",
        "data folder {tmp}/nowhere does not exist",  # the data is loaded before TensorFlow starts
        "--model",
        "{tmp}/damaged.keras",
        "--data-dir",
        "{tmp}/nowhere",
        setup=not_a_model,
        code=1,
        no_tensorflow=True,
    ),
    script(
        "evaluate",
        "{tmp}/damaged.keras could not be loaded as a Keras model",
        "--model",
        "{tmp}/damaged.keras",
        "--data-dir",
        "{data}",
        setup=not_a_model,
        code=1,
    ),
    script("evaluate", "argument --gradcam-images: must be > 0, got 0", "--model", "x.keras", "--gradcam-images", "0"),
    script(
        "export",
        "argument --tolerance: must be a finite number > 0, got nan",
        "--model",
        "x.keras",
        "--out",
        "y",
        "--tolerance",
        "nan",
    ),
    script("export", "argument --opset: must be > 0, got 0", "--model", "x.keras", "--out", "y", "--opset", "0"),
    # scripts/draw_clr.py: NaN, infinities and sizes that would only crash later.
    script(
        "draw_clr",
        "argument --lr-max: must be a finite number > 0, got nan",
        "--lr-max",
        "nan",
        "--out",
        "{tmp}/clr.png",
    ),
    script(
        "draw_clr",
        "argument --gamma: must be a finite number > 0, got inf",
        "--gamma",
        "1e999",
        "--out",
        "{tmp}/clr.png",
    ),
    script("draw_clr", "argument --dpi: must be in 10..1200, got 100000", "--dpi", "100000", "--out", "{tmp}/clr.png"),
    script(
        "draw_clr",
        "draws 6,000,000,000 steps; at most 10,000,000",
        "--step-size",
        "1000000000",
        "--out",
        "{tmp}/clr.png",
    ),
]


def row_id(row):
    where = "subprocess-" if row.subprocess else "no-tensorflow-" if row.no_tensorflow else ""
    return f"{row.script}-{where}{row.id}".replace("{tmp}/", "")


def make_data(folder):
    """train/ and test/ class folders of PNGs: 12 and 4 per class."""
    from keras_s11.classes import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    for split, per_class in (("train", 12), ("test", 4)):
        for name in CIFAR10_CLASSES:
            (folder / split / name).mkdir(parents=True)
            for i in range(per_class):
                image = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                Image.fromarray(image).save(folder / split / name / f"{i:04d}.png")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The data folder, made once; each row works on a copy."""
    folder = tmp_path_factory.mktemp("pristine")
    make_data(folder / "data")
    return folder


def snapshot(folder):
    """Every path under `folder` with a hash of its content (None for folders; the kind for FIFOs and links)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            state[os.path.relpath(os.path.join(dirpath, name), folder)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):  # opening a FIFO would wait for a writer
                state[os.path.relpath(path, folder)] = stat.S_IFMT(info.st_mode)
            elif info.st_size > 2**24:  # the sparse "huge" files: size and time say enough
                state[os.path.relpath(path, folder)] = (info.st_size, info.st_mtime_ns)
            else:
                with open(path, "rb") as f:
                    state[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return state


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run_row(row, args, capsys):
    """(exit status, stderr lines) of one row."""
    if row.subprocess or row.no_tensorflow:
        env = dict(os.environ, **row.env)
        wrapper = ["-c", WITHOUT_TENSORFLOW] if row.no_tensorflow else []
        result = subprocess.run(
            [sys.executable, *wrapper, SCRIPTS[row.script], *args], capture_output=True, text=True, timeout=300, env=env
        )
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        return result.returncode, result.stderr.strip().splitlines()
    main = load_script(row.script)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_bad_input_gives_one_error_line_and_loses_nothing(row, pristine, tmp_path, capsys, monkeypatch):
    shutil.copytree(pristine / "data", tmp_path / "data")
    earlier = tmp_path / "out" / "earlier"
    earlier.mkdir(parents=True)
    (earlier / "metrics.json").write_text('{"test_accuracy": 0.9}\n')
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name, value in row.env.items():
        monkeypatch.setenv(name, value)
    if row.setup:
        row.setup(tmp_path)
    if row.setup is read_only_out and os.geteuid() == 0:  # root ignores permission bits: deny as the OS would
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda path, mode: False if str(path) == str(tmp_path / "out") else real_access(path, mode)
        )
    before = snapshot(tmp_path)
    fill = {"data": str(tmp_path / "data"), "out": str(tmp_path / "out"), "tmp": str(tmp_path)}
    args = [arg.format(**fill) for arg in row.args]

    code, lines = run_row(row, args, capsys)

    errors = [line for line in lines if line.startswith("error:")]
    assert code != 0 and (row.code is None or code == row.code), (code, lines[-5:])
    # One error line, last; in-process (no TensorFlow start-up lines) it is all of stderr.
    assert len(errors) == 1 and lines[-1] == errors[0], lines[-5:]
    assert row.message.format(**fill) in errors[0], errors[0]
    assert "to see the traceback" not in errors[0]  # an expected error, not run_script's catch-all
    assert row.subprocess or len(lines) == 1, lines
    os.chmod(tmp_path / "out", 0o755)
    assert snapshot(tmp_path) == before  # nothing written, nothing lost
