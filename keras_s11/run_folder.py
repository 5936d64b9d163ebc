"""Run folders that appear complete or not at all."""

import json
import os
import shutil
import tempfile


class RunFolderExistsError(FileExistsError):
    """Raised instead of overwriting an earlier run."""


class RunFolder:
    """A context manager for an output folder written under a temporary name.

    Inside the `with` block files are written to a hidden sibling folder; on
    a clean exit it is renamed to `path`, on an exception it is deleted, so a
    failed run leaves nothing behind and an earlier run is never overwritten.

    Args:
        path: Final folder path; must not exist yet unless `overwrite`.
        overwrite: Replace an existing folder at `path`, only once the new
            one is complete (an error keeps the old one).

    Raises:
        RunFolderExistsError: If `path` exists and `overwrite` is false.

    Example:

    >>> with RunFolder("runs/first") as run:
    ...     write_json(run.file("config.json"), config)
    """

    def __init__(self, path, overwrite=False):
        self.path = os.path.abspath(os.fspath(path))
        self.overwrite = overwrite
        if os.path.exists(self.path) and not overwrite:
            raise RunFolderExistsError(f"{self.path} already exists; choose another --run-name or remove it")
        self.tmp_path = None

    def __enter__(self):
        parent = os.path.dirname(self.path)
        os.makedirs(parent, exist_ok=True)
        name = os.path.basename(self.path)
        self.tmp_path = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
        os.chmod(self.tmp_path, 0o777 & ~current_umask())  # mkdtemp makes it private (0700)
        return self

    def file(self, name):
        """Path of `name` inside the (temporary) folder."""
        return os.path.join(self.tmp_path, name)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp_path, ignore_errors=True)
            return False
        if os.path.exists(self.path):
            if not self.overwrite:
                shutil.rmtree(self.tmp_path, ignore_errors=True)
                raise RunFolderExistsError(f"{self.path} appeared while the run was going; nothing was written")
            name, parent = os.path.basename(self.path), os.path.dirname(self.path)
            old = tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=parent)
            os.replace(self.path, os.path.join(old, "replaced"))
            os.replace(self.tmp_path, self.path)
            shutil.rmtree(old, ignore_errors=True)
            return False
        os.replace(self.tmp_path, self.path)
        return False


def current_umask():
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path, data):
    """Writes `data` as indented JSON, atomically (temporary file + rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
