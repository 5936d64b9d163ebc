"""Trains the ResNet-9 on CIFAR-10 with an LR range test and a one-cycle policy.

    python scripts/train.py --data-dir ../shared/datasets/cifar10

Without --lr-min/--lr-max the LR range test runs first and its suggestions
are used. Everything the run produces goes into one new folder under
--out-dir, which appears only when the run is complete. A run that stops
early (killed, interrupted, diverged) keeps its last completed epoch: the
same command again, or --resume, continues from there. --strategy spreads
training over several GPUs, machines (TF_CONFIG) or a TPU.
"""

import argparse
import datetime
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_s11.cli import ArgumentParser, fail, first_line, positive_float, positive_int  # noqa: E402
from keras_s11.distribute import STRATEGIES  # noqa: E402


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", help="class folders, cifar-10-batches-py or its .tar.gz (default: tfds)")
    data.add_argument("--limit-train", type=positive_int, help="use a random subset of N training images")
    data.add_argument("--limit-test", type=positive_int, help="use a random subset of N test images")
    data.add_argument(
        "--holdout",
        type=positive_int,
        help="hold out N training images (stratified, seeded) as the per-epoch validation set; "
        "for choosing settings without looking at the test split",
    )
    data.add_argument("--batch-size", type=positive_int, default=512)
    data.add_argument("--seed", type=int, default=0)
    cycle = parser.add_argument_group("one-cycle policy")
    cycle.add_argument("--epochs", type=positive_int, default=24)
    cycle.add_argument("--peak-epoch", type=positive_float, default=5)
    cycle.add_argument("--lr-min", type=positive_float, help="default: found by the LR range test")
    cycle.add_argument("--lr-max", type=positive_float, help="default: found by the LR range test")
    cycle.add_argument("--schedule", choices=("linear", "cosine"), default="linear")
    cycle.add_argument("--momentum", type=float, default=0.9)
    cycle.add_argument(
        "--momentum-cycle",
        type=float,
        nargs=2,
        metavar=("HIGH", "LOW"),
        help="cycle the momentum HIGH > LOW at the peak > HIGH (replaces --momentum)",
    )
    cycle.add_argument("--no-nesterov", dest="nesterov", action="store_false")
    cycle.add_argument("--weight-decay", type=float, default=5e-4, help="coupled L2, PyTorch convention")
    cycle.add_argument("--label-smoothing", type=float, default=0.2)
    finder = parser.add_argument_group("LR range test")
    finder.add_argument("--range-test-steps", type=positive_int, default=100)
    finder.add_argument("--range-test-start", type=positive_float, default=1e-3)
    finder.add_argument("--range-test-end", type=positive_float, default=10.0)
    finder.add_argument("--range-test-only", action="store_true", help="run the LR range test, save its curve, stop")
    model = parser.add_argument_group("model and run")
    model.add_argument("--width", type=positive_int, default=64)
    model.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"), default="auto")
    model.add_argument(
        "--jit-compile", choices=("auto", "on", "off"), default="auto", help="XLA (auto: on for GPU/TPU, off on CPU)"
    )
    model.add_argument("--no-tta", dest="tta", action="store_false", help="skip the flip-TTA evaluation")
    model.add_argument("--no-report", dest="report", action="store_false", help="skip the report/ of figures")
    model.add_argument("--report-gradcam-images", type=positive_int, default=8, help="Grad-CAM images in the report")
    model.add_argument("--out-dir", default="runs")
    model.add_argument("--run-name", help="default: a timestamp")
    model.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    scale = parser.add_argument_group("devices and resuming")
    scale.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="tf.distribute strategy; auto: TPU if found, multi-worker if TF_CONFIG names a cluster, "
        "mirrored with several GPUs, else default",
    )
    scale.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="continue an interrupted run from its last completed epoch (default: when --run-name has a backup; "
        "--resume without --run-name picks the latest interrupted run in --out-dir)",
    )
    args = parser.parse_args(argv)
    if args.peak_epoch >= args.epochs:
        fail(f"--peak-epoch must be < --epochs (got --peak-epoch {args.peak_epoch}, --epochs {args.epochs})")
    if args.lr_min is not None and args.lr_max is not None and args.lr_min >= args.lr_max:
        fail(f"--lr-min must be < --lr-max (got {args.lr_min} and {args.lr_max})")
    if args.range_test_only and args.lr_min is not None and args.lr_max is not None:
        fail("--range-test-only runs the range test, which --lr-min and --lr-max together skip")
    if args.range_test_start >= args.range_test_end:
        fail(f"--range-test-start must be < --range-test-end (got {args.range_test_start} and {args.range_test_end})")
    if not 0 <= args.momentum < 1:
        fail(f"--momentum must be in [0, 1) (got {args.momentum})")
    if args.momentum_cycle and not (
        0 <= args.momentum_cycle[1] <= args.momentum_cycle[0] < 1 and args.momentum_cycle[0] > 0
    ):
        fail(f"--momentum-cycle needs 1 > HIGH >= LOW >= 0 and HIGH > 0 (got {args.momentum_cycle})")
    if args.weight_decay < 0:
        fail(f"--weight-decay must be >= 0 (got {args.weight_decay})")
    if not 0 <= args.label_smoothing < 1:
        fail(f"--label-smoothing must be in [0, 1) (got {args.label_smoothing})")
    if args.range_test_steps < 2:
        fail(f"--range-test-steps must be >= 2 (got {args.range_test_steps})")
    if args.seed < 0:
        fail(f"--seed must be >= 0 (got {args.seed})")
    if args.run_name is not None and (
        not args.run_name or args.run_name.startswith(".") or os.sep in args.run_name or "/" in args.run_name
    ):
        fail(f"--run-name must be a plain folder name, not starting with '.' (got {args.run_name!r})")
    if args.limit_train is not None and args.limit_train < args.batch_size:
        fail(f"--limit-train ({args.limit_train}) must be >= --batch-size ({args.batch_size})")
    if args.resume and args.run_name is None:
        from keras_s11.resume import latest_resumable

        args.run_name = latest_resumable(args.out_dir)
        if args.run_name is None:
            fail(f"--resume: no interrupted run with a backup in {args.out_dir}")
    args.run_name = args.run_name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return args


def prepare_run(args):
    """The run folder path, whether to resume there and after which epoch; checked before any work starts."""
    from keras_s11.distribute import StrategyError, require_cluster, task_run_name
    from keras_s11.resume import ResumeError, backed_up_epochs, check_same_run, has_backup, read_saved_config
    from keras_s11.run_folder import OutputFolderError, check_output_folder, partial_path

    try:
        check_output_folder(args.out_dir)
        run_path = os.path.join(args.out_dir, task_run_name(args.run_name, args.strategy))
        if args.strategy == "multi-worker":
            require_cluster()
    except (OutputFolderError, StrategyError) as error:
        fail(str(error))
    if os.path.exists(run_path):
        fail(f"run folder {run_path} already exists; choose another --run-name")
    resumable = has_backup(partial_path(run_path))
    if args.resume and not resumable:
        fail(f"--resume: {run_path} has no interrupted run with a backup to resume")
    if resumable and args.range_test_only:
        fail(f"{run_path} has an interrupted training to resume; give --range-test-only another --run-name")
    resume = resumable and args.resume is not False
    if resumable and not resume:
        print(f"--no-resume: discarding the interrupted run in {partial_path(run_path)}")
    initial_epoch = 0
    if resume:
        try:
            check_same_run(read_saved_config(run_path), vars(args))
            initial_epoch = backed_up_epochs(partial_path(run_path))
        except ResumeError as error:
            fail(str(error))
    return run_path, resume, initial_epoch


def make_strategy_or_fail(name):
    """The tf.distribute strategy, created before TensorFlow runs anything else."""
    from keras_s11.distribute import StrategyError, describe_strategy, make_strategy

    try:
        strategy = make_strategy(name)
    except StrategyError as error:
        fail(str(error), code=1)
    print(f"Strategy: {describe_strategy(strategy)}")
    return strategy


def load_data(args):
    """Loads the data before TensorFlow is imported: bad data fails fast and quietly."""
    from keras_s11.data import DataError, holdout_split, load_cifar10

    try:
        (x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
    except DataError as error:
        fail(str(error), code=1)
    x_train, y_train = random_subset(x_train, y_train, args.limit_train, args.seed)
    x_test, y_test = random_subset(x_test, y_test, args.limit_test, args.seed)
    held = None
    if args.holdout is not None:
        if args.holdout >= len(x_train):
            fail(f"--holdout {args.holdout} must be < the {len(x_train)} training images", code=1)
        (x_train, y_train), held = holdout_split(x_train, y_train, args.holdout, seed=args.seed)
    if len(x_train) < args.batch_size:
        fail(f"{len(x_train)} training images are fewer than --batch-size {args.batch_size}", code=1)
    kept = f", {len(held[0])} held out for validation" if held else ""
    print(f"Data: {len(x_train)} training{kept} and {len(x_test)} test images from {args.data_dir or 'tfds'}")
    return (x_train, y_train), (x_test, y_test), held


def random_subset(images, labels, limit, seed):
    """A seeded random subset of `limit` examples (all of them if `limit` is None)."""
    if limit is None or limit >= len(images):
        return images, labels
    keep = np.sort(np.random.default_rng(seed).permutation(len(images))[:limit])
    return images[keep], labels[keep]


def compiled_model(args, sync_batchnorm=False):
    """The network with SGD (Nesterov) and the label-smoothed loss."""
    import keras

    from keras_s11.losses import SparseCategoricalCrossentropy
    from keras_s11.model import build_model
    from keras_s11.optimizers import VariableMomentumSGD

    model = build_model(width=args.width, weight_decay=args.weight_decay, sync_batchnorm=sync_batchnorm)
    initial_lr = args.lr_min or 0.01  # the callbacks set the LR at every step
    if args.momentum_cycle:
        optimizer = VariableMomentumSGD(initial_lr, momentum=args.momentum_cycle[0], nesterov=args.nesterov)
    else:
        optimizer = keras.optimizers.SGD(initial_lr, momentum=args.momentum, nesterov=args.nesterov)
    model.compile(
        optimizer=optimizer,
        loss=SparseCategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
        jit_compile=args.jit_compile_enabled,
    )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"Model: {model.name}, width {args.width}, {trainable:,} trainable parameters")
    return model


def find_lrs(args, model, train_ds, run):
    """LRMIN and LRMAX: the flags where given, else found by the LR range test."""
    from keras_s11.figures import plot_lr_range_test
    from keras_s11.lr_finder import find_lr_range
    from keras_s11.run_folder import write_json

    lr_min, lr_max = args.lr_min, args.lr_max
    if lr_min is None or lr_max is None:
        start = time.time()
        result = find_lr_range(
            model, train_ds, args.range_test_start, args.range_test_end, args.range_test_steps, verbose=args.verbose
        )
        print(f"LR range test took {time.time() - start:.0f} s")
        write_json(run.file("lr_range_test.json"), result.to_dict())
        figure = plot_lr_range_test(
            result.lrs, result.losses, result.smoothed_losses, result.accuracies, result.lr_min, result.lr_max
        )
        figure.savefig(run.file("lr_range_test.png"), dpi=110)
        lr_min = result.lr_min if lr_min is None else lr_min
        lr_max = result.lr_max if lr_max is None else lr_max
    return lr_min, lr_max


def restore_or_find_lrs(args, model, train_ds, run, resume):
    """Restores an interrupted run (returning its backup state) or runs the range test; then LRMIN, LRMAX."""
    from keras_s11.callbacks import restore_backup
    from keras_s11.resume import BACKUP_DIR, read_saved_config

    if resume:
        state = restore_backup(model, run.file(BACKUP_DIR))
        saved = read_saved_config(run.path)
        lr_min = args.lr_min if args.lr_min is not None else saved["lr_min_used"]
        lr_max = args.lr_max if args.lr_max is not None else saved["lr_max_used"]
        print(f"Resuming {run.path} after epoch {state['epoch']}")
    else:
        state, (lr_min, lr_max) = None, find_lrs(args, model, train_ds, run)
    if lr_min >= lr_max:
        fail(f"LRMIN {lr_min:.4g} >= LRMAX {lr_max:.4g}; pass --lr-min and --lr-max", code=1)
    print(f"LRMIN = {lr_min:.4g}, LRMAX = {lr_max:.4g}")
    return state, (lr_min, lr_max)


def training_callbacks(args, run, state, lr_min, lr_max):
    """One-cycle, per-step history, divergence stop, CSV log and per-epoch backup.

    When resuming, they continue `state` (the backup's history, LRs and steps).
    Returns the one-cycle callback, the backup, a function giving the per-step
    history of the whole run so far, and the list of callbacks for `fit`.
    """
    import keras

    from keras_s11.callbacks import OneCycle, StepHistory, StopOnDivergence, TrainingBackup
    from keras_s11.resume import BACKUP_DIR, write_history_csv

    one_cycle = OneCycle(
        lr_min,
        lr_max,
        epochs=args.epochs,
        peak_epoch=args.peak_epoch,
        mode=args.schedule,
        momentum_range=tuple(args.momentum_cycle) if args.momentum_cycle else None,
    )
    step_history = StepHistory()
    state = state or {"history": {}, "train_seconds": 0.0}
    earlier_steps = {}
    if "extra" in state:
        one_cycle.lrs, one_cycle.momentums = list(state["extra"]["lrs"]), list(state["extra"]["momentums"])
        earlier_steps = state["extra"].get("steps", {})
        write_history_csv(run.file("history.csv"), state["history"])  # drops rows of an epoch not backed up

    def steps_so_far():
        names = set(earlier_steps) | set(step_history.history)
        return {name: list(earlier_steps.get(name, [])) + step_history.history.get(name, []) for name in names}

    backup = TrainingBackup(
        run.file(BACKUP_DIR),
        history=state["history"],
        extra_state=lambda: {"lrs": one_cycle.lrs, "momentums": one_cycle.momentums, "steps": steps_so_far()},
        train_seconds=state["train_seconds"],
    )
    csv_logger = keras.callbacks.CSVLogger(run.file("history.csv"), append="extra" in state)
    return one_cycle, backup, steps_so_far, [one_cycle, step_history, StopOnDivergence(), csv_logger, backup]


def main(argv=None):
    started = datetime.datetime.now().isoformat(timespec="seconds")
    args = parse_args(argv)
    run_path, resume, initial_epoch = prepare_run(args)
    (x_train, y_train), (x_test, y_test), held = load_data(args)
    strategy = make_strategy_or_fail(args.strategy)  # before any other TensorFlow op

    import keras

    from keras_s11.callbacks import TrainingDivergedError
    from keras_s11.data import make_eval_dataset, make_resumable_train_dataset
    from keras_s11.distribute import adapt_for_multi_worker, shard_by_data, values_across_workers
    from keras_s11.evaluation import accuracy, flip_averaged, predict_probabilities
    from keras_s11.precision import resolve_jit_compile, set_precision_policy
    from keras_s11.resume import BACKUP_DIR, read_saved_config
    from keras_s11.run_folder import RunFolder, RunFolderBusyError, write_json

    policy = set_precision_policy(args.precision)
    args.jit_compile_enabled = resolve_jit_compile(args.jit_compile)
    print(f"Precision policy: {policy}; XLA {'on' if args.jit_compile_enabled else 'off'}")
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = compiled_model(args, sync_batchnorm=strategy.num_replicas_in_sync > 1)
    epochs = sorted(set(values_across_workers(strategy, initial_epoch)))
    if len(epochs) > 1:
        fail(f"the workers would resume after different epochs {epochs}; start again with --no-resume", code=1)
    train_ds = shard_by_data(
        make_resumable_train_dataset(x_train, y_train, args.batch_size, seed=args.seed, initial_epoch=initial_epoch)
    )
    test_ds = shard_by_data(make_eval_dataset(x_test, y_test, args.batch_size))
    validation_ds = shard_by_data(make_eval_dataset(*held, args.batch_size)) if held else test_ds
    adapt_for_multi_worker(model, strategy, train_ds)
    steps_per_epoch = len(x_train) // args.batch_size

    run = RunFolder(run_path, resume=resume, keep_partial_if=BACKUP_DIR)
    try:
        run.open()
    except (OSError, RunFolderBusyError) as error:
        fail(f"cannot write the run folder: {error}", code=1)
    with run:
        with strategy.scope():
            state, (lr_min, lr_max) = restore_or_find_lrs(args, model, train_ds, run, resume)
        config = dict(
            vars(args),
            precision_policy=policy,
            steps_per_epoch=steps_per_epoch,
            lr_min_used=lr_min,
            lr_max_used=lr_max,
            started=started,
        )
        if resume:
            config = dict(config, started=read_saved_config(run.path)["started"], resumed_from_epoch=state["epoch"])
        write_json(run.file("config.json"), config)
        if args.range_test_only:
            print(f"Range test only; run folder: {run.path}")
            return

        one_cycle, backup, step_history, callbacks = training_callbacks(args, run, state, lr_min, lr_max)
        try:
            model.fit(
                train_ds,
                epochs=args.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch,
                validation_data=validation_ds,
                verbose=args.verbose,
                shuffle=False,
                callbacks=callbacks,
            )
        except TrainingDivergedError as error:
            done = len(backup.history.get("loss", []))
            kept = f"; the state after epoch {done} is kept: add --resume --run-name {args.run_name}" if done else ""
            fail(f"{error}; rerun with a lower --lr-max (this run: {lr_max:.4g}){kept}", code=1)
        train_seconds = backup.train_seconds  # summed over restarts
        history = backup.history
        shutil.rmtree(run.file(BACKUP_DIR))
        write_json(run.file("history.json"), history)
        write_json(
            run.file("lrs.json"),
            {"steps_per_epoch": steps_per_epoch, "lrs": one_cycle.lrs, "momentums": one_cycle.momentums},
        )
        write_json(run.file("train_steps.json"), {"steps_per_epoch": steps_per_epoch, **step_history()})

        metrics = {"train_seconds": round(train_seconds, 1), "lr_min": lr_min, "lr_max": lr_max}
        if held:
            metrics["holdout_loss"], metrics["holdout_accuracy"] = history["val_loss"][-1], history["val_accuracy"][-1]
            metrics["holdout_accuracy_flip_tta"] = accuracy(
                flip_averaged(model, held[0], predict_probabilities(model, held[0], args.batch_size), args.batch_size),
                held[1],
            )
            test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
        else:  # the last epoch's validation pass already evaluated the final weights
            test_loss, test_accuracy = history["val_loss"][-1], history["val_accuracy"][-1]
        metrics.update(test_loss=float(test_loss), test_accuracy=float(test_accuracy))
        # Predicted once, for flip TTA and for the report.
        probabilities = predict_probabilities(model, x_test, args.batch_size) if args.tta or args.report else None
        if args.tta:
            averaged = flip_averaged(model, x_test, probabilities, args.batch_size)
            metrics["test_accuracy_flip_tta"] = accuracy(averaged, y_test)
        write_json(run.file("metrics.json"), metrics)
        model.save(run.file("model.keras"))
    tta = f" ({100 * metrics['test_accuracy_flip_tta']:.2f} % with flip TTA)" if args.tta else ""
    if held:
        print(f"Holdout accuracy {100 * metrics['holdout_accuracy']:.2f} % "
              f"({100 * metrics['holdout_accuracy_flip_tta']:.2f} % with flip TTA)")
    print(f"Test loss {test_loss:.4f}, test accuracy {100 * test_accuracy:.2f} %{tta}")
    print(f"Training took {train_seconds / 60:.1f} min; run folder: {run.path}")
    if args.report:
        report_run(args, run.path, model, x_test, y_test, probabilities)


def report_run(args, run_path, model, x_test, y_test, probabilities):
    """The run's report/ (figures, metrics.json, report.md); the run folder is complete already."""
    from keras_s11.report import classwise_table, write_run_report

    command = "python scripts/train.py " + " ".join(sys.argv[1:])
    try:
        metrics = write_run_report(
            run_path,
            model,
            x_test,
            y_test,
            gradcam_images=args.report_gradcam_images,
            details={"command": command},
            probabilities=probabilities,
        )
    except Exception as error:  # the trained model is saved: say so instead of a stack trace
        hint = f"the run is saved: try scripts/evaluate.py --model {os.path.join(run_path, 'model.keras')}"
        fail(f"report not written ({first_line(error)}); {hint}", 1)
    print(classwise_table(metrics))
    print(f"Report: {os.path.join(run_path, 'report', 'report.md')}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        fail("interrupted; rerun with --resume to continue after the last completed epoch", code=130)
