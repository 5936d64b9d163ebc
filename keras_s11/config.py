"""Every setting of a training run, with its default and its check: defined here, once.

`keras_s11.training.train` takes a `TrainConfig` (or its fields as keyword
arguments); `scripts/train.py` builds its flags, their defaults and their
`--help` from the fields below. No TensorFlow is imported here, so a bad
setting is refused before anything starts.
"""

import dataclasses
import math
import os

from keras_s11 import cli
from keras_s11.distribute import STRATEGIES

SCHEDULES = ("linear", "cosine")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
JIT_COMPILE = ("auto", "on", "off")
VERBOSITY = (0, 1, 2)
RESIDUAL_INITS = ("same", "dirac")
PREP_INITS = ("same", "whiten")
FLIPS = ("random", "alternating")  # keras_s11.data.checks.FLIPS


# Named recipes and the settings each gives; a setting given as well wins. `default` is the
# assignment's 24-epoch cycle; `fast` the short schedule of docs/RESULTS.md ("Short schedules").
RECIPES = {
    "default": {"epochs": 24, "peak_epoch": 5.0, "prep_init": "same"},
    "fast": {"epochs": 12, "peak_epoch": 2.5, "prep_init": "whiten"},
}


class ConfigError(ValueError):
    """A setting out of range, or settings that do not go together.

    The message names the settings in backticks (`peak_epoch`, or
    `peak_epoch=30` with a value), so that a command line can name its own
    flags instead.
    """


def _setting(default, help, group, parse=None, choices=None, flag=None, nargs=None, metavar=None):
    """A field with what a command line needs to offer it (see `scripts/train.py`)."""
    metadata = dict(help=help, group=group, parse=parse, choices=choices, flag=flag, nargs=nargs, metavar=metavar)
    return dataclasses.field(default=default, metadata=metadata)


# The groups of `scripts/train.py --help`.
DATA, RECIPE, FINDER, OUTPUT, HARDWARE = "data", "recipe", "range test", "output", "hardware"


@dataclasses.dataclass
class TrainConfig:
    """The settings of one training run (`keras_s11.training.train`).

    Every field has the default of the recipe: 24 epochs of one cycle from
    LRMIN to LRMAX at epoch 5 and back, LRMIN and LRMAX found by the LR range
    test, SGD with Nesterov momentum 0.9, coupled L2 weight decay 5e-4,
    label smoothing 0.1, batch 512. `recipe="fast"` gives the short schedule
    instead (12 epochs, the peak at 2.5, a whitened PrepLayer) for the fields
    of `RECIPES` that are not given. The fields are checked when the object is
    made.

    Raises:
        ConfigError: If a setting is out of range or settings contradict
            each other.

    Example:

    >>> config = TrainConfig(data_dir="../shared/datasets/cifar10", epochs=2, peak_epoch=1, width=16)
    >>> dataclasses.replace(config, epochs=30)  # checked again
    >>> TrainConfig(recipe="fast").epochs
    12
    """

    data_dir: str = _setting(None, "class folders, cifar-10-batches-py or its .tar.gz (default: tfds)", DATA)
    limit_train: int = _setting(None, "use a random subset of N training images", DATA, cli.positive_int)
    limit_test: int = _setting(None, "use a random subset of N test images", DATA, cli.positive_int)
    holdout: int = _setting(
        None,
        "hold out N training images (stratified, seeded) as the per-epoch validation set; "
        "for choosing settings without looking at the test split",
        DATA,
        cli.positive_int,
    )
    batch_size: int = _setting(512, "global batch size", DATA, cli.positive_int)
    seed: int = _setting(0, "seed of the initial weights, the shuffling and the augmentation", DATA, cli.seed_int)
    recipe: str = _setting(
        "default",
        "named recipe: `default` (the assignment's 24 epochs) or `fast` (the short schedule); `fast:` "
        "below marks what it sets, and a flag given as well wins",
        RECIPE,
        choices=tuple(RECIPES),
    )
    epochs: int = _setting(None, "length of the one cycle", RECIPE, cli.positive_int)
    peak_epoch: float = _setting(None, "epoch at which the LR peaks (LRMAX)", RECIPE, cli.positive_float)
    lr_min: float = _setting(None, "LRMIN (default: found by the LR range test)", RECIPE, cli.positive_float)
    lr_max: float = _setting(None, "LRMAX (default: found by the LR range test)", RECIPE, cli.positive_float)
    schedule: str = _setting("linear", "shape of the cycle", RECIPE, choices=SCHEDULES)
    momentum: float = _setting(0.9, "SGD momentum", RECIPE, cli.finite_float)
    nesterov: bool = _setting(True, "Nesterov's form of momentum", RECIPE, flag="--no-nesterov")
    lookahead: tuple = _setting(
        None,
        "Lookahead around the SGD: every STEPS steps slow weights move FRACTION of the way to the weights "
        "and replace them (Zhang et al. 2019: 5 0.5)",
        RECIPE,
        cli.finite_float,
        nargs=2,
        metavar=("STEPS", "FRACTION"),
    )
    batchnorm_lr_scale: float = _setting(
        1.0,
        "factor on the LR of the BatchNorm offsets (beta); airbench steps its BatchNorm biases at 64x the LR",
        RECIPE,
        cli.finite_float,
    )
    weight_decay: float = _setting(5e-4, "coupled L2, PyTorch convention", RECIPE, cli.finite_float)
    label_smoothing: float = _setting(0.1, "label smoothing of the loss", RECIPE, cli.finite_float)
    ema_momentum: float = _setting(
        0.99,
        "momentum per step of an exponential moving average of the weights (Keras's `use_ema`), "
        "which the final evaluation and the saved model use; 0: no average",
        RECIPE,
        cli.finite_float,
    )
    range_test_steps: int = _setting(100, "steps of the LR range test", FINDER, cli.positive_int)
    range_test_start: float = _setting(1e-3, "first LR of the range test", FINDER, cli.positive_float)
    range_test_end: float = _setting(10.0, "last LR of the range test", FINDER, cli.positive_float)
    range_test_only: bool = _setting(False, "run the LR range test, save its curve, stop", FINDER)
    width: int = _setting(64, "channels of the PrepLayer (smaller for quick runs)", RECIPE, cli.positive_int)
    residual_init: str = _setting(
        "same",
        "initialisation of the residual blocks' convolutions: as the others, or `dirac` "
        "(identity kernels, as airbench)",
        RECIPE,
        choices=RESIDUAL_INITS,
    )
    prep_init: str = _setting(
        None,
        "initialisation of the PrepLayer convolution: as the others, or `whiten` (its first "
        "filters whiten the training images' 3x3 patches, as airbench)",
        RECIPE,
        choices=PREP_INITS,
    )
    flip: str = _setting(
        "random",
        "horizontal flips of the training images: a coin per image and epoch, or `alternating` (a coin in "
        "the first epoch, then each image the other way each epoch, as airbench)",
        RECIPE,
        choices=FLIPS,
    )
    logit_scale: float = _setting(
        0.125, "constant factor on the FC output before the softmax (Page's recipe)", RECIPE, cli.positive_float
    )
    tta: bool = _setting(True, "the flip and multi-crop TTA evaluation", OUTPUT, flag="--no-tta")
    report: bool = _setting(True, "the report/ of figures", OUTPUT, flag="--no-report")
    report_gradcam_images: int = _setting(8, "Grad-CAM images in the report", OUTPUT, cli.positive_int)
    tensorboard: bool = _setting(True, "TensorBoard logs in the run folder", OUTPUT, flag="--no-tensorboard")
    out_dir: str = _setting("runs", "folder of the run folders", OUTPUT)
    run_name: str = _setting(None, "name of the run folder (default: a timestamp)", OUTPUT)
    verbose: int = _setting(1, "Keras progress output", OUTPUT, int, choices=VERBOSITY)
    precision: str = _setting("auto", "mixed precision policy", HARDWARE, choices=PRECISIONS)
    jit_compile: str = _setting("auto", "XLA (auto: on for GPU/TPU, off on CPU)", HARDWARE, choices=JIT_COMPILE)
    strategy: str = _setting(
        "auto",
        "tf.distribute strategy; auto: TPU if found, multi-worker if TF_CONFIG names a cluster, "
        "mirrored with several GPUs, else default",
        HARDWARE,
        choices=STRATEGIES,
    )
    resume: bool = _setting(
        None,
        "continue an interrupted run from its last completed epoch (default: when --run-name has a backup; "
        "--resume without --run-name picks the latest interrupted run in --out-dir)",
        OUTPUT,
    )

    def __post_init__(self):
        _require(self.recipe in RECIPES, f"`recipe` must be one of {tuple(RECIPES)}", recipe=self.recipe)
        for name, value in RECIPES[self.recipe].items():  # the recipe's value where none is given
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.lookahead is not None:
            self.lookahead = tuple(self.lookahead)
        check_config(self)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require(condition, message, **values):
    if not condition:
        received = ", ".join(f"{name}={value!r}" for name, value in values.items())
        raise ConfigError(f"Argument {message}. Received: {received}")


def _check_types(config):
    for name in ("batch_size", "epochs", "range_test_steps", "width", "report_gradcam_images"):
        value = getattr(config, name)
        _require(_is_int(value) and value > 0, f"`{name}` must be an integer > 0", **{name: value})
    for name in ("limit_train", "limit_test", "holdout"):
        value = getattr(config, name)
        _require(
            value is None or _is_int(value) and value > 0, f"`{name}` must be None or an integer > 0", **{name: value}
        )
    for name in ("peak_epoch", "range_test_start", "range_test_end", "logit_scale", "batchnorm_lr_scale"):
        value = getattr(config, name)
        _require(_is_number(value) and value > 0, f"`{name}` must be a finite number > 0", **{name: value})
    for name in ("lr_min", "lr_max"):
        value = getattr(config, name)
        _require(
            value is None or _is_number(value) and value > 0, f"`{name}` must be a finite number > 0", **{name: value}
        )
    for name in ("momentum", "weight_decay", "label_smoothing", "ema_momentum"):
        value = getattr(config, name)
        _require(_is_number(value), f"`{name}` must be a finite number", **{name: value})
    for name, choices in (
        ("schedule", SCHEDULES),
        ("residual_init", RESIDUAL_INITS),
        ("prep_init", PREP_INITS),
        ("flip", FLIPS),
        ("precision", PRECISIONS),
        ("jit_compile", JIT_COMPILE),
        ("strategy", STRATEGIES),
        ("verbose", VERBOSITY),
    ):
        value = getattr(config, name)
        _require(value in choices, f"`{name}` must be one of {choices}", **{name: value})
    for name in ("nesterov", "range_test_only", "tta", "report", "tensorboard"):
        _require(
            isinstance(getattr(config, name), bool), f"`{name}` must be True or False", **{name: getattr(config, name)}
        )
    _require(config.resume in (None, True, False), "`resume` must be None, True or False", resume=config.resume)
    _require(
        _is_int(config.seed) and 0 <= config.seed <= cli.MAX_SEED,
        f"`seed` must be an integer in [0, {cli.MAX_SEED}]",
        seed=config.seed,
    )


def check_config(config):
    """Raises `ConfigError` unless every setting of `config` is in range and they go together.

    Args:
        config: A `TrainConfig`.
    """
    _check_types(config)
    _require(
        config.peak_epoch < config.epochs,
        "`peak_epoch` must be < `epochs`",
        peak_epoch=config.peak_epoch,
        epochs=config.epochs,
    )
    if config.lr_min is not None and config.lr_max is not None:
        _require(
            config.lr_min < config.lr_max, "`lr_min` must be < `lr_max`", lr_min=config.lr_min, lr_max=config.lr_max
        )
        _require(
            not config.range_test_only,
            "`range_test_only` runs the range test, which `lr_min` and `lr_max` together skip",
            range_test_only=True,
            lr_min=config.lr_min,
            lr_max=config.lr_max,
        )
    _require(
        config.range_test_start < config.range_test_end,
        "`range_test_start` must be < `range_test_end`",
        range_test_start=config.range_test_start,
        range_test_end=config.range_test_end,
    )
    _require(0 <= config.momentum < 1, "`momentum` must be in [0, 1)", momentum=config.momentum)
    _require(
        config.batchnorm_lr_scale == 1 or config.momentum > 0,
        "`batchnorm_lr_scale` needs `momentum` > 0 (its SGD keeps a velocity per weight)",
        batchnorm_lr_scale=config.batchnorm_lr_scale,
        momentum=config.momentum,
    )
    if config.lookahead is not None:
        _require(
            len(config.lookahead) == 2
            and _is_number(config.lookahead[0])
            and float(config.lookahead[0]).is_integer()
            and config.lookahead[0] >= 1
            and _is_number(config.lookahead[1])
            and 0 < config.lookahead[1] <= 1,
            "`lookahead` needs STEPS an integer >= 1 and 0 < FRACTION <= 1",
            lookahead=list(config.lookahead),
        )
    _require(config.weight_decay >= 0, "`weight_decay` must be >= 0", weight_decay=config.weight_decay)
    _require(
        0 <= config.label_smoothing < 1, "`label_smoothing` must be in [0, 1)", label_smoothing=config.label_smoothing
    )
    _require(0 <= config.ema_momentum < 1, "`ema_momentum` must be in [0, 1)", ema_momentum=config.ema_momentum)
    _require(config.range_test_steps >= 2, "`range_test_steps` must be >= 2", range_test_steps=config.range_test_steps)
    name = config.run_name
    _require(
        name is None
        or isinstance(name, str)
        and name
        and not name.startswith(".")
        and "/" not in name
        and os.sep not in name,
        "`run_name` must be a plain folder name, not starting with '.'",
        run_name=name,
    )
    if config.limit_train is not None:
        _require(
            config.limit_train >= config.batch_size,
            f"`limit_train` ({config.limit_train}) must be >= `batch_size` ({config.batch_size})",
            limit_train=config.limit_train,
            batch_size=config.batch_size,
        )
