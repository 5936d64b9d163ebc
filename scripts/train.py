"""Trains the ResNet-9 on CIFAR-10 with an LR range test and a one-cycle policy.

    python scripts/train.py --data-dir ../shared/datasets/cifar10

Without --lr-min/--lr-max the LR range test runs first and its suggestions
are used. Everything the run produces goes into one new folder under
--out-dir, which appears only when the run is complete, TensorBoard logs
included (tensorboard --logdir runs). A run that stops early (killed,
interrupted, terminated, diverged) keeps its last completed epoch: the same
command again, or --resume, continues from there. SIGTERM is handled like
Ctrl-C (one line saying what is kept), with exit status 143. --strategy
spreads training over several GPUs, machines (TF_CONFIG) or a TPU.

The run itself is `keras_s11.training.train`; this script reads the flags
(their defaults and checks are those of `keras_s11.config.TrainConfig`) and
turns errors into one `error:` line.
"""

import argparse
import dataclasses
import os
import re
import sys

# This checkout's keras_s11, whether or not (or whichever copy) it is installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_s11.cli import ArgumentParser, fail, interruption, quiet_tensorflow, run_script  # noqa: E402
from keras_s11.config import RECIPES, ConfigError, TrainConfig  # noqa: E402

SETTINGS = {field.name: field for field in dataclasses.fields(TrainConfig)}
# A setting named in a library message: `name`, `name=value`, or name=value after "Received:".
NAMED = re.compile(r"`(\w+)(?:=([^`]*))?`|\b(\w+)=('[^']*'|\[[^\]]*\]|[^\s,;]+?)(?=[.,;)]?(?:\s|$))")


def option(name):
    return "--" + name.replace("_", "-")


def as_flags(message):
    """A library message with each setting it names spelled as its flag (`peak_epoch=30` > `--peak-epoch 30`)."""

    def spell(match):
        name, value = match.group(1, 2) if match.group(1) else match.group(3, 4)
        if name not in SETTINGS:
            return match.group(0)
        if value is None:
            return option(name)
        value = value.strip("'\"")
        if value == "True":
            return option(name)
        if value == "False" and SETTINGS[name].type is bool:
            return SETTINGS[name].metadata["flag"] or f"--no-{name.replace('_', '-')}"
        return f"{option(name)} {value}"

    return NAMED.sub(spell, message)


def build_parser():
    """The flags of every `TrainConfig` field, grouped, with its default and help."""
    parser = ArgumentParser(description=__doc__)
    groups = {}
    for field in SETTINGS.values():
        meta = field.metadata
        group = groups.get(meta["group"]) or groups.setdefault(meta["group"], parser.add_argument_group(meta["group"]))
        shown = field.default is not None and field.type is not bool
        help_text = meta["help"] + (f" (default: {field.default})" if shown else "")
        if field.name in RECIPES["default"]:  # None: the recipe's value
            help_text += " (" + "; ".join(f"{name}: {values[field.name]}" for name, values in RECIPES.items()) + ")"
        if field.type is bool and meta["flag"]:  # on by default: --no-NAME
            group.add_argument(meta["flag"], dest=field.name, action="store_false", help=f"skip {help_text}")
        elif field.type is bool:
            action = "store_true" if field.default is False else argparse.BooleanOptionalAction
            group.add_argument(option(field.name), action=action, default=field.default, help=help_text)
        else:
            group.add_argument(
                option(field.name),
                type=meta["parse"] or str,
                choices=meta["choices"],
                nargs=meta["nargs"],
                metavar=meta["metavar"],
                default=field.default,
                help=help_text,
            )
    return parser


def parse_args(argv=None):
    """The `TrainConfig` of the command line; a bad flag ends the script with one `error:` line."""
    args = build_parser().parse_args(argv)
    try:
        return TrainConfig(**vars(args))
    except ConfigError as error:
        fail(as_flags(str(error)))


def interrupted(error, how="interrupted"):
    """What an interrupted run left, in one line beginning with `how` ("interrupted", "terminated (SIGTERM)")."""
    if error.complete:
        return f"{how} while writing the report; the run is complete in {error.run_path}"
    if error.epochs_kept:
        return (
            f"{how}; the state after epoch {error.epochs_kept} is kept: "
            f"rerun with --resume --run-name {error.run_name} to continue"
        )
    return f"{how} before the first epoch ended: nothing was kept, there is nothing to resume"


def main(argv=None):
    quiet_tensorflow()  # before anything imports TensorFlow
    config = parse_args(argv)
    from keras_s11.training import ReportNotWritten, TrainingDiverged, TrainingError, TrainingInterrupted, train

    command = "python scripts/train.py " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        return train(config, command=command)
    except ConfigError as error:
        fail(as_flags(str(error)))
    except TrainingDiverged as error:
        kept = error.epochs_kept and f"; the state after epoch {error.epochs_kept} is kept: add --resume --run-name"
        kept = f"{kept} {error.run_name}" if kept else ""
        fail(f"{error.divergence}; rerun with a lower --lr-max (this run: {error.lr_max:.4g}){kept}", code=1)
    except ReportNotWritten as error:
        model = os.path.join(error.result.run_path, "model.keras")
        fail(f"{as_flags(str(error))}: try scripts/evaluate.py --model {model}", code=1)
    except TrainingError as error:
        fail(as_flags(str(error)), code=1)
    except TrainingInterrupted as error:
        how, code = interruption()  # Ctrl-C (130), or SIGTERM turned into an interrupt by run_script (143)
        fail(interrupted(error, how), code=code)


if __name__ == "__main__":
    run_script(main, interrupted="interrupted before the run started; nothing was written")
