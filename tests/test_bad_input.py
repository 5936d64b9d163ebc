"""The bad-input matrix: each bad input gives one `error:` line, a non-zero exit, and loses nothing.

Every row names a command, its arguments, what to break first, and a piece
of the expected message. Rows run in-process (`main(argv)` with captured
stderr) when the error comes before TensorFlow starts, which is nearly all
of them; rows marked `subprocess` run the real script in a child process.
After every row the whole temporary folder (the data, an earlier run in the
output folder, any model file) must be byte-for-byte as it was.

Rows for `scripts/evaluate.py` and `scripts/export.py` ("a model file that
is not a model") go into `ROWS` with their script name once those scripts
exist; until then the `load-model` rows check the same cases through
`keras_s11.saving.load_model`, which they load models with.
"""

import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from keras_s11.cli import fail

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = {"train": os.path.join(ROOT, "scripts", "train.py")}
TRAIN_OK = ["--data-dir", "{data}", "--out-dir", "{out}", "--run-name", "new", "--width", "4", "--batch-size", "32"]


def load_model_command(argv):
    """Stands in for the model-loading scripts: one `error:` line for a file that is not a model."""
    from keras_s11.saving import ModelFileError, load_model

    try:
        load_model(argv[0])
    except ModelFileError as error:
        fail(str(error), code=1)


@dataclasses.dataclass
class Row:
    id: str
    script: str  # a key of SCRIPTS, or "load-model"
    args: list  # "{data}", "{out}" and "{tmp}" are filled in
    message: str  # must appear in the error line
    setup: object = None  # setup(tmp_path): breaks something first
    code: int = None  # expected exit status (None: any non-zero)
    subprocess: bool = False
    env: dict = dataclasses.field(default_factory=dict)


def train(message, *args, setup=None, code=2, **kwargs):
    """A train.py row: valid arguments, then `args` (later flags win)."""
    return Row(message, "train", [*TRAIN_OK, *args], message, setup, code, **kwargs)


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


def not_a_model(tmp):
    (tmp / "notes.txt").write_text("hello")
    (tmp / "fake.keras").write_bytes(b"not a zip")
    (tmp / "folder.keras").mkdir()
    with zipfile.ZipFile(tmp / "damaged.keras", "w") as archive:
        archive.writestr("config.json", "{not json")


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
    train("--momentum-cycle needs 1 > HIGH >= LOW >= 0", "--momentum-cycle", "0.8", "0.9"),
    train("--momentum-cycle needs 1 > HIGH >= LOW >= 0", "--momentum-cycle", "1.0", "0.5"),
    train("--weight-decay must be >= 0", "--weight-decay", "-1"),
    train("--label-smoothing must be in [0, 1)", "--label-smoothing", "1"),
    train("--label-smoothing must be in [0, 1)", "--label-smoothing", "-0.1"),
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
    train("argument --verbose: invalid choice: 3", "--verbose", "3"),
    train("--seed must be >= 0", "--seed", "-1"),
    train("unrecognized arguments: --fast", "--fast"),
    train("--peak-epoch must be < --epochs", "--peak-epoch", "24", "--epochs", "24", subprocess=True),
    # A model file that is not a model (scripts/evaluate.py and scripts/export.py rows go here too).
    Row("missing", "load-model", ["{tmp}/missing.keras"], "does not exist", not_a_model, 1),
    Row("text", "load-model", ["{tmp}/notes.txt"], "is not a Keras model file", not_a_model, 1),
    Row("not-zip", "load-model", ["{tmp}/fake.keras"], "is not a Keras model file", not_a_model, 1),
    Row("folder", "load-model", ["{tmp}/folder.keras"], "is a folder", not_a_model, 1),
    Row("damaged", "load-model", ["{tmp}/damaged.keras"], "could not be loaded as a Keras model", not_a_model, 1),
]


def row_id(row):
    return f"{row.script}-{'subprocess-' if row.subprocess else ''}{row.id}"


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
    """Every path under `folder` with a hash of its content (None for folders)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            state[os.path.relpath(os.path.join(dirpath, name), folder)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
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
    if row.subprocess:
        env = dict(os.environ, **row.env)
        result = subprocess.run(
            [sys.executable, SCRIPTS[row.script], *args], capture_output=True, text=True, timeout=300, env=env
        )
        return result.returncode, result.stderr.strip().splitlines()
    main = load_model_command if row.script == "load-model" else load_script(row.script)
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
    assert row.subprocess or len(lines) == 1, lines
    os.chmod(tmp_path / "out", 0o755)
    assert snapshot(tmp_path) == before  # nothing written, nothing lost
