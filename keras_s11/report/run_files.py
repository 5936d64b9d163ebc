"""Reading the files a training run left in its folder."""

import dataclasses
import json
import os

RUN_FILES = {
    "config": "config.json",
    "metrics": "metrics.json",
    "history": "history.json",
    "lrs": "lrs.json",
    "range_test": "lr_range_test.json",
    "steps": "train_steps.json",
}


class ReportError(ValueError):
    """Raised when a report cannot be made from the given inputs (one-line message)."""


@dataclasses.dataclass
class RunRecord:
    """The JSON files of a run folder; `None` for each file the run did not write."""

    folder: str
    config: dict = None
    metrics: dict = None
    history: dict = None
    lrs: dict = None
    range_test: dict = None
    steps: dict = None

    @property
    def found_lrs(self):
        """`(lr_min, lr_max)` found by the range test, else those used, else `None`."""
        for source, low, high in (
            (self.range_test, "lr_min", "lr_max"),
            (self.config, "lr_min_used", "lr_max_used"),
        ):
            if source and source.get(low) is not None and source.get(high) is not None:
                return float(source[low]), float(source[high])
        return None


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ReportError(f"cannot read {path}: {error}") from None


def read_run_folder(folder):
    """Reads a run folder written by `scripts/train.py`.

    Args:
        folder: The folder; it counts as a run folder when it holds
            `config.json`.

    Returns:
        A `RunRecord`, or `None` if `folder` is not a run folder.

    Raises:
        ReportError: If one of its JSON files cannot be read.
    """
    folder = os.fspath(folder)
    if not os.path.isfile(os.path.join(folder, RUN_FILES["config"])):
        return None
    record = RunRecord(folder=folder)
    for field, name in RUN_FILES.items():
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            setattr(record, field, _read_json(path))
    return record
