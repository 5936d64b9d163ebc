"""Where a training run goes and whether it resumes: decided before any work starts (no TensorFlow)."""

import dataclasses
import datetime
import os

from keras_s11.config import ConfigError
from keras_s11.distribute import StrategyError, require_cluster, task_run_name
from keras_s11.resume import (
    ResumeError,
    check_backup_model,
    check_same_run,
    has_backup,
    latest_resumable,
    read_saved_config,
)
from keras_s11.run_folder import OutputFolderError, check_output_folder, locked_by_another_process, partial_path


@dataclasses.dataclass
class RunPlan:
    """Where a run is written and where it starts.

    Attributes:
        run_name: The name given, or the one chosen (a timestamp, or the
            latest interrupted run for `resume=True` without a name).
        run_path: The run folder (with `.worker-N` for the workers but the
            chief of a multi-worker cluster).
        resume: Whether the run continues an interrupted one.
        initial_epoch: Epochs done already (0 for a new run).
        discard: Whether an interrupted run under this name is discarded
            (`resume=False`).
    """

    run_name: str
    run_path: str
    resume: bool
    initial_epoch: int
    discard: bool = False


def plan_run(config):
    """Checks that `config`'s run can start, and says where it goes.

    Nothing is written. The checks: the output folder can hold the run, the
    run folder does not exist yet, no other process is writing a run of the
    same name, and a run to resume exists and was made with the same
    settings.

    Args:
        config: A `keras_s11.config.TrainConfig`.

    Returns:
        A `RunPlan`.

    Raises:
        ConfigError: If the run cannot start as configured; the message
            names the setting to change.
    """
    run_name = config.run_name
    if config.resume and run_name is None:
        run_name = latest_resumable(config.out_dir)
        if run_name is None:
            raise ConfigError(f"`resume=True`: no interrupted run with a backup in {config.out_dir}")
    run_name = run_name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        check_output_folder(config.out_dir)
        run_path = os.path.join(config.out_dir, task_run_name(run_name, config.strategy))
        if config.strategy == "multi-worker":
            require_cluster()
    except (OutputFolderError, StrategyError) as error:
        raise ConfigError(str(error)) from None
    if os.path.exists(run_path):
        raise ConfigError(f"run folder {run_path} already exists; choose another `run_name`")
    partial = partial_path(run_path)
    if locked_by_another_process(partial):
        raise ConfigError(f"`run_name={run_name!r}` is in use: another process is writing {partial}")
    resumable = has_backup(partial)
    if config.resume and not resumable:
        raise ConfigError(f"`resume=True`: {run_path} has no interrupted run with a backup to resume")
    if resumable and config.range_test_only:
        raise ConfigError(
            f"{run_path} has an interrupted training to resume; give `range_test_only` another `run_name`"
        )
    resume = resumable and config.resume is not False
    initial_epoch = 0
    if resume:
        try:
            check_same_run(read_saved_config(run_path), dataclasses.asdict(config))
            initial_epoch = check_backup_model(partial)
        except ResumeError as error:
            raise ConfigError(str(error)) from None
    return RunPlan(run_name, run_path, resume, initial_epoch, discard=resumable and not resume)
