"""The whole training run as one call: `train(...)`, what `scripts/train.py` runs.

Data > LR range test (unless LRMIN and LRMAX are given) > one-cycle `fit`,
backed up after every epoch > evaluation (with flip TTA) > the saved model,
TensorBoard logs and the report, all in one new run folder that appears
only when the run is complete (see `keras_s11.run_layout` for its files).
A run that stops early keeps its last completed epoch; `train` with the same
settings (or `resume=True`) continues from there.

TensorFlow is imported when `train` gets to it: the settings, the run folder
and the data are checked first.
"""

import dataclasses
import datetime
import importlib.util
import os
import shutil
import time

import numpy as np

from keras_s11 import run_layout
from keras_s11.cli import describe_os_error, first_line
from keras_s11.config import ConfigError, TrainConfig
from keras_s11.distribute import describe_lost_worker
from keras_s11.resume import BACKUP_DIR, ResumeError, backed_up_epochs, has_backup, read_saved_config
from keras_s11.run_folder import partial_path, write_json
from keras_s11.run_plan import plan_run


@dataclasses.dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        run_path: The (complete) run folder.
        config: The settings of the run, with `run_name` filled in.
        model: The trained model (with `range_test_only`, the untrained one).
        lr_min, lr_max: The LRs of the cycle (found or given).
        history: Per-epoch metrics of the whole run (`None` with `range_test_only`).
        metrics: What `metrics.json` holds: test (and holdout) loss and
            accuracy, with flip TTA, training time (`None` with `range_test_only`).
        range_test: The `LRRangeResult` when the range test ran, else `None`.
        report_path: The report's `report.md`, or `None` without a report.
    """

    run_path: str
    config: TrainConfig
    model: object
    lr_min: float
    lr_max: float
    history: dict = None
    metrics: dict = None
    range_test: object = None
    report_path: str = None


class TrainingError(RuntimeError):
    """A run that could not go on: bad data, no device, a run folder that cannot be written, ...

    The message is one line and names the file or setting at fault.
    """


class TrainingDiverged(TrainingError):
    """The loss became NaN or infinite.

    Attributes:
        divergence: The `TrainingDivergedError` (epoch, step, learning rate).
        lr_max: The peak LR of the run.
        epochs_kept: Epochs in the backup that `resume=True` continues from.
        run_name: The run's name.
    """

    def __init__(self, divergence, lr_max, epochs_kept, run_name):
        self.divergence, self.lr_max, self.epochs_kept, self.run_name = divergence, lr_max, epochs_kept, run_name
        kept = f"; the state after epoch {epochs_kept} is kept: `resume=True` continues it" if epochs_kept else ""
        super().__init__(f"{divergence}; lower `lr_max` (this run: {lr_max:.4g}){kept}")


class ReportNotWritten(TrainingError):
    """The run is complete and saved, but its report failed; `result` is the `TrainResult`."""

    def __init__(self, message, result):
        self.result = result
        super().__init__(message)


class TrainingInterrupted(KeyboardInterrupt):
    """A `KeyboardInterrupt` that says what the interrupted run left.

    Attributes:
        run_name, run_path: The run's name and folder.
        epochs_kept: Epochs in the backup that `resume=True` continues from
            (0: nothing to resume).
        complete: Whether the run folder was complete (the interrupt came
            during the report).
    """

    def __init__(self, run_name, run_path, epochs_kept, complete):
        self.run_name, self.run_path, self.epochs_kept, self.complete = run_name, run_path, epochs_kept, complete
        super().__init__(run_path)


def train(config=None, /, *, command=None, callbacks=(), **settings):
    """Trains the ResNet-9 with an LR range test and a one-cycle policy; writes a run folder.

    Args:
        config: A `keras_s11.config.TrainConfig` (default: the recipe's).
        command: The command line that started the run, for the report.
        callbacks: More Keras callbacks for the training `fit` (not the
            range test), after the run's own.
        **settings: `TrainConfig` fields, overriding those of `config`
            (without `config`, `recipe="fast"` gives the short schedule).

    Returns:
        A `TrainResult`.

    Raises:
        ConfigError: Before any work, if a setting is out of range or the run
            cannot start as configured (folder exists, name in use, nothing
            to resume, a damaged backup, ...).
        TrainingError: If the run stops on the way (`TrainingDiverged`,
            `ReportNotWritten` among them).
        TrainingInterrupted: On a `KeyboardInterrupt`.

    Example:

    >>> result = train(data_dir="../shared/datasets/cifar10", epochs=2, peak_epoch=1, width=16)
    >>> result.metrics["test_accuracy"], result.run_path
    """
    if config is not None and "recipe" in settings:  # `config` holds every setting: the recipe would set none
        raise ConfigError("give `recipe` without a `config`, or build the config with `TrainConfig(recipe=...)`")
    config = TrainConfig(**settings) if config is None else dataclasses.replace(config, **settings)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            "`tensorboard=True` needs the tensorboard package (pip install tensorboard), or `tensorboard=False`"
        )
    plan = plan_run(config)
    config = dataclasses.replace(config, run_name=plan.run_name)
    try:
        return _train(config, plan, started, command, list(callbacks))
    except KeyboardInterrupt:
        kept = _epochs_kept(plan)
        raise TrainingInterrupted(plan.run_name, plan.run_path, kept, os.path.isdir(plan.run_path)) from None
    except OSError as error:
        fault = describe_os_error(error)
        if fault is None:
            raise
        raise _machine_fault(plan, fault, "free space and rerun") from None
    except Exception as error:
        fault = describe_lost_worker(error)
        if fault is None:
            raise
        raise _machine_fault(plan, fault, "restart every worker") from None


def _machine_fault(plan, fault, remedy):
    """A `TrainingError` for a fault of the machine: what happened, what is kept, how to go on."""
    kept = _epochs_kept(plan)
    if os.path.isdir(plan.run_path):
        return TrainingError(f"{fault}; the run is complete in {plan.run_path} but its report is not")
    if kept:
        return TrainingError(
            f"{fault}; the state after epoch {kept} is kept in {partial_path(plan.run_path)}: "
            f"{remedy} with `resume=True` and `run_name={plan.run_name}`"
        )
    return TrainingError(f"{fault}; no epoch was kept")


def _epochs_kept(plan):
    """Epochs in the interrupted run's backup (0: nothing to resume)."""
    partial = partial_path(plan.run_path)
    try:
        return backed_up_epochs(partial) if has_backup(partial) else 0
    except ResumeError:
        return 0


def _train(config, plan, started, command, user_callbacks):
    if plan.discard:
        print(f"resume=False: discarding the interrupted run in {partial_path(plan.run_path)}")
    (x_train, y_train), (x_test, y_test), held = _load_data(config)
    strategy = _make_strategy(config.strategy)  # before any other TensorFlow op

    import keras

    from keras_s11.data import make_eval_input, make_train_input
    from keras_s11.distribute import adapt_for_multi_worker, shard_by_data, values_across_workers
    from keras_s11.precision import resolve_jit_compile, set_precision_policy
    from keras_s11.run_folder import RunFolder, RunFolderBusyError, RunFolderExistsError

    policy = set_precision_policy(config.precision)
    jit_compile = resolve_jit_compile(config.jit_compile)
    print(f"Precision policy: {policy}; XLA {'on' if jit_compile else 'off'}")
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = _compiled_model(config, jit_compile, sync_batchnorm=strategy.num_replicas_in_sync > 1)
        if config.prep_init == "whiten":
            from keras_s11.whitening import apply_patch_whitening

            print(f"PrepLayer: {apply_patch_whitening(model, x_train)} filters whiten the training patches")
    epochs = sorted(set(values_across_workers(strategy, plan.initial_epoch)))
    if len(epochs) > 1:
        raise TrainingError(
            f"the workers would resume after different epochs {epochs}; start again with `resume=False`"
        )
    # tf.data on TensorFlow, a keras.utils.PyDataset of the same batches on JAX and PyTorch.
    train_ds = shard_by_data(
        make_train_input(
            x_train, y_train, config.batch_size, seed=config.seed, initial_epoch=plan.initial_epoch, flip=config.flip
        )
    )

    # The range test reads batches as `fit` does, and each pass counts as an epoch: it gets an input
    # of its own, so that the training starts at its epoch. A weight average's BatchNorm statistics
    # are recomputed on epoch 0's first batches, resumed or not. Each is built when it is used.
    def fresh_train_input():
        return shard_by_data(make_train_input(x_train, y_train, config.batch_size, seed=config.seed, flip=config.flip))

    test_ds = shard_by_data(make_eval_input(x_test, y_test, config.batch_size))
    validation_ds = shard_by_data(make_eval_input(*held, batch_size=config.batch_size)) if held else test_ds
    adapt_for_multi_worker(model, strategy, train_ds)
    steps_per_epoch = len(x_train) // config.batch_size
    facts = dict(jit_compile_enabled=jit_compile, precision_policy=policy, steps_per_epoch=steps_per_epoch)

    try:
        run = RunFolder(plan.run_path, resume=plan.resume, keep_partial_if=BACKUP_DIR).open()
    except (OSError, RunFolderBusyError, RunFolderExistsError) as error:
        raise TrainingError(f"cannot write the run folder: {error}") from None
    try:
        with run:
            with strategy.scope():
                state, range_test, (lr_min, lr_max) = _restore_or_find_lrs(config, plan, model, fresh_train_input, run)
            saved = dict(dataclasses.asdict(config), **facts, lr_min_used=lr_min, lr_max_used=lr_max, started=started)
            if plan.resume:
                saved.update(started=read_saved_config(run.path)["started"], resumed_from_epoch=state["epoch"])
            write_json(run.file(run_layout.CONFIG), saved)
            result = TrainResult(run.path, config, model, lr_min, lr_max, range_test=range_test)
            if config.range_test_only:
                print(f"Range test only; run folder: {run.path}")
                return result
            lrs = (lr_min, lr_max)
            datasets = (train_ds, validation_ds, fresh_train_input)
            result.history, seconds = _fit(
                config, plan, model, datasets, run, state, lrs, steps_per_epoch, user_callbacks
            )
            _check_finite(model)  # before evaluating or saving a broken model
            result.metrics, probabilities = _evaluate(
                config, model, result.history, seconds, test_ds, validation_ds, (x_test, y_test), held, lrs
            )
            write_json(run.file(run_layout.METRICS), result.metrics)
            model.save(run.file(run_layout.MODEL))
    except RunFolderExistsError as error:  # the run folder appeared from elsewhere while this run went on
        raise TrainingError(str(error)) from None
    _print_summary(result.metrics, seconds, run.path)
    if config.report:
        _report(config, result, (x_test, y_test), probabilities, command)
    return result


def _check_finite(model):
    """Raises `TrainingError` when a weight of the trained model holds NaN or Inf: it is not saved."""
    from keras_s11.finite_weights import first_non_finite_weight

    problem = first_non_finite_weight(model.weights)
    if problem:
        raise TrainingError(f"the trained model is broken, its {problem}: it was not saved")


def _load_data(config):
    """The training, test and held-out data (`None` without `holdout`), loaded before TensorFlow starts."""
    from keras_s11.data import DataError, holdout_split, load_cifar10

    try:
        (x_train, y_train), (x_test, y_test) = load_cifar10(
            config.data_dir, limit_train=config.limit_train, limit_test=config.limit_test, seed=config.seed
        )
    except DataError as error:
        raise TrainingError(str(error)) from None
    held = None
    if config.holdout is not None:
        if config.holdout >= len(x_train):
            raise TrainingError(f"`holdout={config.holdout}` must be < the {len(x_train)} training images")
        (x_train, y_train), held = holdout_split(x_train, y_train, config.holdout, seed=config.seed)
    if len(x_train) < config.batch_size:
        raise TrainingError(f"{len(x_train)} training images are fewer than `batch_size={config.batch_size}`")
    kept = f", {len(held[0])} held out for validation" if held else ""
    print(f"Data: {len(x_train)} training{kept} and {len(x_test)} test images from {config.data_dir or 'tfds'}")
    return (x_train, y_train), (x_test, y_test), held


def _make_strategy(name):
    from keras_s11.distribute import StrategyError, describe_strategy, make_strategy

    try:
        strategy = make_strategy(name)
    except StrategyError as error:
        raise TrainingError(str(error)) from None
    print(f"Strategy: {describe_strategy(strategy)}")
    return strategy


def make_optimizer(config):
    """The run's SGD: Keras's own, or `VariableMomentumSGD` when the BatchNorm offsets have an LR scale.

    Args:
        config: A `TrainConfig`.

    Returns:
        A Keras optimizer (the callbacks set its learning rate at every step).
    """
    import keras

    initial_lr = config.lr_min or 0.01
    # With an average, `fit` ends by copying it into the model (`finalize_variable_values`).
    average = dict(use_ema=True, ema_momentum=config.ema_momentum) if config.ema_momentum else {}
    if config.batchnorm_lr_scale == 1:
        return keras.optimizers.SGD(initial_lr, momentum=config.momentum, nesterov=config.nesterov, **average)
    from keras_s11.optimizers import VariableMomentumSGD

    return VariableMomentumSGD(
        initial_lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        lr_multipliers={"beta": config.batchnorm_lr_scale},
        **average,
    )


def _compiled_model(config, jit_compile, sync_batchnorm=False):
    """The network with SGD (Nesterov) and the label-smoothed loss."""
    from keras_s11.losses import SparseCategoricalCrossentropy
    from keras_s11.model import build_model

    model = build_model(
        width=config.width,
        weight_decay=config.weight_decay,
        logit_scale=config.logit_scale,
        residual_init=config.residual_init,
        sync_batchnorm=sync_batchnorm,
    )
    model.compile(
        optimizer=make_optimizer(config),
        loss=SparseCategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"Model: {model.name}, width {config.width}, {trainable:,} trainable parameters")
    return model


def _find_lrs(config, model, make_input, run):
    """`(range test result or None, (LRMIN, LRMAX))`: the settings where given, else found by the range test."""
    from keras_s11.figures import plot_lr_range_test
    from keras_s11.lr_finder import find_lr_range

    lr_min, lr_max = config.lr_min, config.lr_max
    if lr_min is not None and lr_max is not None:
        return None, (lr_min, lr_max)
    start = time.time()
    result = find_lr_range(
        model,
        make_input(),
        start_lr=config.range_test_start,
        end_lr=config.range_test_end,
        num_steps=config.range_test_steps,
        verbose=config.verbose,
    )
    print(f"LR range test took {time.time() - start:.0f} s")
    write_json(run.file(run_layout.RANGE_TEST), result.to_dict())
    figure = plot_lr_range_test(result)
    figure.savefig(run.file(run_layout.RANGE_TEST_PLOT), dpi=110)
    if config.tensorboard:
        from keras_s11.tensorboard_logs import write_range_test_logs

        write_range_test_logs(os.path.join(run.file(run_layout.TENSORBOARD), run_layout.RANGE_TEST_LOGS), result)
    return result, (result.lr_min if lr_min is None else lr_min, result.lr_max if lr_max is None else lr_max)


def _restore_or_find_lrs(config, plan, model, make_input, run):
    """Restores an interrupted run (and its backup state) or runs the range test; then LRMIN, LRMAX."""
    from keras_s11.callbacks import restore_backup

    state = range_test = None
    if plan.resume:
        backup_dir = run.file(BACKUP_DIR)
        try:
            state = restore_backup(model, backup_dir)
        except ResumeError as error:  # says what is wrong with which file
            raise TrainingError(str(error)) from None
        except Exception as error:  # a backup the zip check passed but Keras cannot load
            raise TrainingError(
                f"the backup in {backup_dir} cannot be loaded ({first_line(error)}); start again with `resume=False`"
            ) from None
        saved = read_saved_config(run.path)
        lr_min = config.lr_min if config.lr_min is not None else saved["lr_min_used"]
        lr_max = config.lr_max if config.lr_max is not None else saved["lr_max_used"]
        print(f"Resuming {run.path} after epoch {state['epoch']}")
    else:
        range_test, (lr_min, lr_max) = _find_lrs(config, model, make_input, run)
    if lr_min >= lr_max and not config.range_test_only:  # only the curve is wanted: it is saved
        raise TrainingError(f"LRMIN {lr_min:.4g} >= LRMAX {lr_max:.4g}; give `lr_min` and `lr_max`")
    bands = ""
    if range_test is not None:
        (min_low, min_high), (max_low, max_high) = range_test.lr_min_band, range_test.lr_max_band
        bands = f" (bands {min_low:.4g}-{min_high:.4g} and {max_low:.4g}-{max_high:.4g})"
    print(f"LRMIN = {lr_min:.4g}, LRMAX = {lr_max:.4g}{bands}")
    return state, range_test, (lr_min, lr_max)


def _fit(config, plan, model, datasets, run, state, lrs, steps_per_epoch, user_callbacks):
    """Trains with the one-cycle policy, continuing `state` when resuming.

    `datasets` is `(train, validation, make_recalibration_input)`, the last
    a function that builds the input of a weight average's BatchNorm
    statistics (only then, after training). Returns the per-epoch history
    of the whole run and its training time (summed over restarts); writes
    the history, LRs and per-step files.
    """
    from keras_s11.batchnorm import recalibrate_batchnorm
    from keras_s11.callbacks import TrainingDivergedError
    from keras_s11.ema_fix import untie_optimizer_arrays
    from keras_s11.training_callbacks import make_training_callbacks

    train_ds, validation_ds, make_recalibration_input = datasets
    callbacks = make_training_callbacks(config, run, state, *lrs)
    try:
        model.fit(
            train_ds,
            epochs=config.epochs,
            initial_epoch=plan.initial_epoch,
            validation_data=validation_ds,
            verbose=config.verbose,
            shuffle=False,
            callbacks=[*callbacks.all, *user_callbacks],
        )
    except TrainingDivergedError as error:
        done = len(callbacks.backup.history.get("loss", []))
        raise TrainingDiverged(error, lrs[1], done, config.run_name) from None
    if config.ema_momentum:  # `fit` put the average of the trainable weights in the model: fit the statistics to it
        untie_optimizer_arrays(model)
        recalibrate_batchnorm(model, make_recalibration_input())
    shutil.rmtree(run.file(BACKUP_DIR))
    history = callbacks.backup.history
    one_cycle = callbacks.one_cycle
    write_json(run.file(run_layout.HISTORY), history)
    write_json(
        run.file(run_layout.LRS),
        {"steps_per_epoch": steps_per_epoch, "lrs": one_cycle.lrs},
    )
    write_json(run.file(run_layout.STEPS), {"steps_per_epoch": steps_per_epoch, **callbacks.steps_so_far()})
    return history, callbacks.backup.train_seconds


def _evaluate(config, model, history, train_seconds, test_ds, validation_ds, test, held, lrs):
    """The final metrics (test, holdout, flip and multi-crop TTA) and the test predictions (or `None`)."""
    from keras_s11.evaluation import accuracy, flip_averaged, multicrop_averaged, predict_probabilities

    (x_test, y_test), batch_size = test, config.batch_size
    metrics = {"train_seconds": round(train_seconds, 1), "lr_min": lrs[0], "lr_max": lrs[1]}
    split = "holdout" if held else "test"
    if config.ema_momentum:  # the last validation pass saw the last step's weights, not their average
        metrics[f"{split}_loss_last_step_weights"] = history["val_loss"][-1]
        metrics[f"{split}_accuracy_last_step_weights"] = history["val_accuracy"][-1]
        validation = model.evaluate(validation_ds, verbose=0)
    else:
        validation = history["val_loss"][-1], history["val_accuracy"][-1]
    if held:
        metrics["holdout_loss"], metrics["holdout_accuracy"] = map(float, validation)
        held_probabilities = predict_probabilities(model, held[0], batch_size)
        held_flipped = flip_averaged(model, held[0], held_probabilities, batch_size)
        metrics["holdout_accuracy_flip_tta"] = accuracy(held_flipped, held[1])
        metrics["holdout_accuracy_multicrop_tta"] = accuracy(
            multicrop_averaged(model, held[0], held_flipped, batch_size), held[1]
        )
        test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
    else:  # the test set is the validation set
        test_loss, test_accuracy = validation
    metrics.update(test_loss=float(test_loss), test_accuracy=float(test_accuracy))
    # Predicted once, for flip TTA and for the report.
    probabilities = predict_probabilities(model, x_test, batch_size) if config.tta or config.report else None
    if config.tta:
        flipped = flip_averaged(model, x_test, probabilities, batch_size)
        metrics["test_accuracy_flip_tta"] = accuracy(flipped, y_test)
        multicrop = multicrop_averaged(model, x_test, flipped, batch_size)
        metrics["test_accuracy_multicrop_tta"] = accuracy(multicrop, y_test)
    return metrics, probabilities


def _print_summary(metrics, train_seconds, run_path):
    if "holdout_accuracy" in metrics:
        print(
            f"Holdout accuracy {100 * metrics['holdout_accuracy']:.2f} % "
            f"({100 * metrics['holdout_accuracy_flip_tta']:.2f} % with flip TTA, "
            f"{100 * metrics['holdout_accuracy_multicrop_tta']:.2f} % with multi-crop TTA)"
        )
    tta = metrics.get("test_accuracy_flip_tta")
    multicrop = metrics.get("test_accuracy_multicrop_tta")
    tta = "" if tta is None else f" ({100 * tta:.2f} % with flip TTA, {100 * multicrop:.2f} % with multi-crop TTA)"
    print(f"Test loss {metrics['test_loss']:.4f}, test accuracy {100 * metrics['test_accuracy']:.2f} %{tta}")
    for split in ("holdout", "test"):
        if f"{split}_accuracy_last_step_weights" in metrics:
            print(
                f"(the weight average; the last step's weights: {split} accuracy "
                f"{100 * metrics[f'{split}_accuracy_last_step_weights']:.2f} %)"
            )
    print(f"Training took {train_seconds / 60:.1f} min; run folder: {run_path}")


def _report(config, result, test, probabilities, command):
    """The run's report/ (figures, metrics.json, report.md); the run folder is complete already."""
    from keras_s11.report import classwise_table, write_run_report

    try:
        metrics = write_run_report(
            result.run_path,
            result.model,
            *test,
            gradcam_images=config.report_gradcam_images,
            details={"command": command} if command else None,
            probabilities=probabilities,
        )
    except Exception as error:  # the trained model is saved: say so instead of a stack trace
        raise ReportNotWritten(
            f"report not written ({first_line(error)}); the run is saved in {result.run_path}", result
        ) from error
    result.report_path = os.path.join(result.run_path, run_layout.REPORT, "report.md")
    print(classwise_table(metrics))
    print(f"Report: {result.report_path}")
