import json
import os

import pytest

from keras_s11.run_folder import RunFolder, RunFolderExistsError, write_json


def test_folder_appears_only_when_complete(tmp_path):
    target = tmp_path / "runs" / "a"
    with RunFolder(target) as run:
        write_json(run.file("x.json"), {"a": 1})
        assert not target.exists()
        assert os.path.basename(run.tmp_path).startswith(".a.")
    assert json.loads((target / "x.json").read_text()) == {"a": 1}
    assert os.listdir(tmp_path / "runs") == ["a"]


def test_failure_leaves_nothing_and_existing_runs_are_refused(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path / "b") as run:
            write_json(run.file("x.json"), {})
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    (tmp_path / "c").mkdir()
    with pytest.raises(RunFolderExistsError, match="already exists"):
        RunFolder(tmp_path / "c")


def test_overwrite_replaces_only_once_complete(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with RunFolder(target, overwrite=True) as run:
            write_json(run.file("new.json"), {})
            raise RuntimeError("boom")
    assert os.listdir(target) == ["old.txt"]
    with RunFolder(target, overwrite=True) as run:
        write_json(run.file("new.json"), {})
        assert os.listdir(target) == ["old.txt"]
    assert os.listdir(target) == ["new.json"] and os.listdir(tmp_path) == ["d"]


def test_folder_mode_follows_the_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        with RunFolder(tmp_path / "e"):
            pass
    finally:
        os.umask(mask)
    assert (tmp_path / "e").stat().st_mode & 0o777 == 0o755
