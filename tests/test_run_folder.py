import json
import os

import pytest

from keras_s11.run_folder import (
    OutputFolderError,
    RunFolder,
    RunFolderBusyError,
    RunFolderExistsError,
    check_output_folder,
    partial_path,
    write_json,
)


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


def test_partial_folder_is_kept_on_error_when_it_holds_a_backup_and_resumed(tmp_path):
    target = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        with RunFolder(target, keep_partial_if="backup") as run:
            assert run.tmp_path == partial_path(target) == str(tmp_path / ".r.partial")
            os.mkdir(run.file("backup"))
            write_json(run.file("config.json"), {"epoch": 1})
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == [".r.partial"]
    with RunFolder(target, resume=True) as run:  # continues where it was
        assert json.loads(open(run.file("config.json")).read()) == {"epoch": 1}
    assert sorted(os.listdir(target)) == ["backup", "config.json"]  # no lock file left


def test_without_resume_an_old_partial_folder_is_replaced(tmp_path):
    os.makedirs(tmp_path / ".s.partial" / "backup")
    with RunFolder(tmp_path / "s") as run:
        assert os.listdir(run.tmp_path) == [".lock"]
    assert os.listdir(tmp_path / "s") == []


def test_two_writers_of_one_run_are_refused(tmp_path):
    with RunFolder(tmp_path / "t"):
        with pytest.raises(RunFolderBusyError, match="another process is writing"):
            RunFolder(tmp_path / "t", resume=True).open()


def test_output_folder_check(tmp_path):
    check_output_folder(tmp_path / "new" / "deeper")  # creatable: fine, and nothing is created
    assert os.listdir(tmp_path) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(OutputFolderError, match="cannot be created"):
        check_output_folder(tmp_path / "file" / "below")


@pytest.mark.parametrize("resume", [False, True])
def test_the_lock_is_held_until_the_finished_folder_is_renamed(tmp_path, monkeypatch, resume):
    """A second writer arriving just before the rename must find the run busy, not take it over."""
    target = tmp_path / "w"
    seen = []
    real_replace = os.replace

    def replace_after_a_second_writer(src, dst):
        if os.fspath(src) == partial_path(target):
            try:  # the moment before the rename: the old order had already released the lock here
                RunFolder(target, resume=resume).open()
                seen.append("taken")
            except RunFolderBusyError:
                seen.append("busy")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_after_a_second_writer)
    with RunFolder(target) as run:
        write_json(run.file("x.json"), {"a": 1})
    assert seen == ["busy"]
    assert sorted(os.listdir(target)) == ["x.json"]  # complete, and no lock file left in it
    assert os.listdir(tmp_path) == ["w"]  # no partial folder left


def test_a_kept_partial_folder_stays_locked_by_its_lock_file(tmp_path):
    """After an interrupted run its lock file stays, so a resumer and a second process lock the same file."""
    target = tmp_path / "k"
    with pytest.raises(KeyboardInterrupt):
        with RunFolder(target, keep_partial_if="backup") as run:
            os.mkdir(run.file("backup"))
            raise KeyboardInterrupt
    with RunFolder(target, resume=True):
        with pytest.raises(RunFolderBusyError):
            RunFolder(target, resume=True).open()
        with pytest.raises(RunFolderBusyError):
            RunFolder(target).open()  # not resuming, it would delete the folder: refused while locked
    assert sorted(os.listdir(target)) == ["backup"]
