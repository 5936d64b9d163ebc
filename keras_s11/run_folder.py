"""Run folders that appear complete or not at all."""

import contextlib
import json
import os
import shutil
import tempfile

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

_LOCK_NAME = ".lock"


class RunFolderExistsError(FileExistsError):
    """Raised instead of overwriting an earlier run."""


class RunFolderBusyError(RuntimeError):
    """Raised when another process is writing the same run folder.

    An expected condition: a script reports it in its own words
    (`expected`), not as an unexpected error.
    """

    expected = True


class OutputFolderError(ValueError):
    """Raised when the output folder cannot hold a new run."""


def check_output_folder(path):
    """Raises `OutputFolderError` unless `path` is, or can become, a writable folder.

    Nothing is created: the check looks at `path` or, when it does not exist
    yet, at its nearest existing parent.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputFolderError(f"output folder {path} is a file, not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputFolderError(f"output folder {path} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" (its parent {existing} is not writable)"
        raise OutputFolderError(f"output folder {path} is not writable{where}")


def partial_path(path):
    """The hidden folder a run is written to before it is complete: `.NAME.partial`."""
    path = os.path.abspath(os.fspath(path))
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial")


class RunFolder:
    """A context manager for an output folder written under a temporary name.

    Inside the `with` block files are written to a hidden sibling folder,
    `.NAME.partial`; on a clean exit it is renamed to `path`, so an earlier
    run is never overwritten and a folder named `NAME` is always complete.

    On an exception the partial folder is deleted, unless it holds the entry
    named by `keep_partial_if` (such as a training backup): then it is kept,
    for a later run with `resume=True` to continue. A run killed outright
    leaves its partial folder too. While a `RunFolder` is open it holds a lock
    on its partial folder, so two processes never write the same run.

    Args:
        path: Final folder path; must not exist yet unless `overwrite`.
        overwrite: Replace an existing folder at `path`, only once the new
            one is complete (an error keeps the old one).
        resume: Whether to continue in an existing partial folder; without
            it an old partial folder is deleted first.
        keep_partial_if: Name of an entry of the partial folder that makes it
            worth keeping on an exception (`None`: always delete).

    Raises:
        RunFolderExistsError: If `path` exists and `overwrite` is false.
        RunFolderBusyError: On entering, if another process holds the lock.

    Example:

    >>> with RunFolder("runs/first") as run:
    ...     write_json(run.file("config.json"), config)
    """

    def __init__(self, path, overwrite=False, resume=False, keep_partial_if=None):
        self.path = os.path.abspath(os.fspath(path))
        self.overwrite = overwrite
        if os.path.exists(self.path) and not overwrite:
            raise RunFolderExistsError(f"{self.path} already exists; choose another --run-name or remove it")
        self.tmp_path = partial_path(self.path)
        self.resume = resume
        self.keep_partial_if = keep_partial_if
        self._lock = None
        self._open = False

    def open(self):
        """Creates (or, resuming, reopens) the partial folder and locks it.

        `with` calls it when it has not been called; calling it first lets a
        caller tell a folder that cannot be written from errors of the run.

        Raises:
            RunFolderBusyError: If another process holds the lock.
            OSError: If the folder cannot be created.
        """
        if self._open:
            return self
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        if os.path.isdir(self.tmp_path):
            self._acquire_lock()
            if not self.resume:
                shutil.rmtree(self.tmp_path)  # still locked: nobody else starts in it meanwhile
                self._release_lock(remove_file=False)  # the file went with the folder
        if not os.path.isdir(self.tmp_path):
            try:
                os.mkdir(self.tmp_path)
            except FileExistsError:  # another process created it between the check and here
                raise RunFolderBusyError(f"another process is writing {self.tmp_path}") from None
            self._acquire_lock()
        self._open = True
        return self

    def __enter__(self):
        return self.open()

    def file(self, name):
        """Path of `name` inside the (temporary) folder."""
        return os.path.join(self.tmp_path, name)

    def __exit__(self, exc_type, exc, tb):
        # The lock is held until the partial folder is renamed or deleted: released first, a
        # second process could take the partial folder (and, not resuming, delete it) meanwhile.
        self._open = False
        if exc_type is not None:
            keep = self.keep_partial_if is not None and os.path.exists(self.file(self.keep_partial_if))
            if not keep:
                shutil.rmtree(self.tmp_path, ignore_errors=True)
            self._release_lock(remove_file=False)  # a kept folder keeps its lock file: a resumer locks that one
            return False
        if os.path.exists(self.path) and not self.overwrite:
            self._release_lock(remove_file=False)
            raise RunFolderExistsError(
                f"{self.path} appeared while the run was going; this run stays in {self.tmp_path}"
            )
        try:
            if os.path.exists(self.path):  # overwrite
                name, parent = os.path.basename(self.path), os.path.dirname(self.path)
                old = tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=parent)
                os.replace(self.path, os.path.join(old, "replaced"))
                os.replace(self.tmp_path, self.path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self.tmp_path, self.path)
        except BaseException:
            self._release_lock(remove_file=False)
            raise
        # Renamed with the folder; nobody locks a lock file inside a finished run.
        self._release_lock(lock_file=os.path.join(self.path, _LOCK_NAME))
        return False

    def _acquire_lock(self):
        self._lock = open(self.file(_LOCK_NAME), "a")
        if fcntl is None:
            return
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise RunFolderBusyError(f"another process is writing {self.tmp_path}") from None

    def _release_lock(self, remove_file=True, lock_file=None):
        """Releases the lock; with `remove_file`, deletes `lock_file` (default: the partial folder's) first.

        The file is deleted while still locked, never after: deleted after,
        a process could lock it in between, and a third then lock a new file
        of the same name, both believing they hold the lock.
        """
        if self._lock is None:
            return
        if remove_file:
            try:
                os.remove(lock_file or self.file(_LOCK_NAME))
            except FileNotFoundError:
                pass
        self._lock.close()  # closing releases the flock
        self._lock = None


def locked_by_another_process(folder):
    """Whether an open `RunFolder` (here or in another process) holds the lock of the partial folder `folder`.

    A cheap check before a run starts; opening the `RunFolder` takes the lock
    for real (and raises `RunFolderBusyError` if it is taken by then).
    """
    if fcntl is None:
        return False
    try:
        descriptor = os.open(os.path.join(folder, _LOCK_NAME), os.O_RDONLY)
    except OSError:  # no lock file: nobody holds it
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # releases the lock if it was taken here
    return False


def current_umask():
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path, data):
    """Writes `data` as indented JSON, atomically (temporary file + rename)."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:  # a full disk, an interrupt: no half-written file is left
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
