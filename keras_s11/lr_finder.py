"""Runs the LR range test on any compiled Keras model and suggests LRMIN and LRMAX."""

import dataclasses

import keras

from keras_s11.range_test_inputs import range_test_fit_arguments, repeat_input
from keras_s11.range_test_rule import (
    LR_RULE,
    NOISE_HALF_WIDTH,
    WIDEST_RECIPE_BANDS,
    LRRangeWarning,
    pick_bands,
    step_noise,
    suggest_lr_range,
    warn_if_wide,
)

__all__ = [
    "LR_RULE",
    "NOISE_HALF_WIDTH",
    "WIDEST_RECIPE_BANDS",
    "LRRangeResult",
    "LRRangeWarning",
    "find_lr_range",
    "pick_bands",
    "read_range_test",
    "repeat_input",
    "step_noise",
    "suggest_lr_range",
    "warn_if_wide",
]


@dataclasses.dataclass
class LRRangeResult:
    """Curves of an LR range test and the learning rates suggested from them.

    `losses` and `smoothed_losses` are each step's own batch loss and its
    moving average. `lr_min_band` and `lr_max_band` are the `(low, high)`
    LRs each pick could as well have been (`pick_bands`). `plot()` draws
    them (`keras_s11.figures.plot_lr_range_test`);
    `keras_s11.callbacks.OneCycle.from_range_test(result, epochs, peak_epoch)`
    cycles between the picks.
    """

    lrs: list
    losses: list
    smoothed_losses: list
    accuracies: list
    lr_min: float
    lr_max: float
    diverged: bool
    rule: str = LR_RULE
    lr_min_band: tuple = None
    lr_max_band: tuple = None

    def to_dict(self):
        return dataclasses.asdict(self)

    def plot(self):
        """The range-test figure: `keras_s11.figures.plot_lr_range_test(self)`.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        from keras_s11.figures.lr import plot_lr_range_test

        return plot_lr_range_test(self)


def find_lr_range(
    model,
    x,
    y=None,
    batch_size=None,
    start_lr=1e-3,
    end_lr=10.0,
    num_steps=100,
    mode="exponential",
    verbose=1,
    **kwargs,
):
    """Runs an LR range test on any compiled Keras model and suggests LRMIN and LRMAX.

    Takes the data as `model.fit` does, in `fit`'s order: arrays with their
    targets (a list or dict of arrays for a model with several inputs or
    outputs), batched by `batch_size` (32 by default) and shuffled anew at
    each pass, as many passes as `num_steps` needs; or a `tf.data.Dataset`
    or `keras.utils.PyDataset` of batches, repeated as needed
    (`repeat_input`). The learning rate grows from `start_lr` to `end_lr`
    over `num_steps` steps (`LRRangeTest`), and the curve is read by the
    rule `LR_RULE` (`suggest_lr_range`). Any loss, any metrics and any
    optimizer built with a float learning rate will do (SGD, Adam, AdamW,
    with or without a `LossScaleOptimizer` around them). The model is left
    exactly as it was: its weights, the optimizer's state and its learning
    rate are restored, also when `fit` is interrupted. With arrays the
    batches follow `keras.utils.set_random_seed`, so a seeded test repeats
    bit for bit.

    When the curve gives no trustworthy pick (the loss never fell, was
    still falling at the last LR, fell from the first steps, or the test is
    too short to read), an `LRRangeWarning` says why
    (`suggest_lr_range`).

    The learning rates follow `y` and `batch_size`, as in `fit`: pass them
    as keywords (`find_lr_range(model, dataset, 1e-3, 10.0)` is refused
    with the error a dataset gives for a `y`).

    Args:
        model: A compiled `keras.Model`, its optimizer built with a float
            learning rate, `steps_per_execution=1`.
        x: Input data: a NumPy array (or other array `fit` takes), a list
            or dict of arrays, a `tf.data.Dataset` or a
            `keras.utils.PyDataset` yielding `(inputs, targets)` batches.
        y: Targets, for arrays only.
        batch_size: Batch size, for arrays only; 32 by default.
        start_lr, end_lr, num_steps, mode: As in `LRRangeTest`: the LRs of
            the first and last step, the number of steps, `"exponential"`
            or `"linear"` growth.
        verbose: Verbosity of `fit`; also prints the picks and their bands
            when > 0.
        **kwargs: Further `LRRangeTest` arguments (`smoothing`,
            `divergence_factor`, `restore`).

    Returns:
        An `LRRangeResult`: `lr_min`, `lr_max`, their bands
        `lr_min_band` and `lr_max_band`, the curves, and `plot()`.

    Raises:
        TypeError: If `model` is not a Keras model, or `x` or `y` is of a
            kind not taken.
        ValueError: If the model is not compiled, its optimizer has a
            learning-rate schedule, `y` or `batch_size` is given with a
            dataset, the arrays disagree in length, or an argument of the
            test is out of range.

    Example:

    >>> model.compile(keras.optimizers.Adam(1e-3), "mse")
    >>> result = find_lr_range(model, x_train, y_train, batch_size=64, start_lr=1e-5, end_lr=1.0)
    >>> result.lr_min, result.lr_max, result.lr_max_band
    >>> result.plot().savefig("lr_range_test.png")
    >>> model.fit(x_train, y_train, epochs=10, callbacks=[OneCycle.from_range_test(result, epochs=10, peak_epoch=3)])
    """
    from keras_s11.callbacks._optimizer_checks import check_step_callback
    from keras_s11.callbacks.lr_range_test import LRRangeTest

    if not isinstance(model, keras.Model):
        raise TypeError(f"Argument `model` must be a keras.Model. Received: model of type {type(model).__name__}")
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "Argument `model` must be compiled with an optimizer and a loss (`model.compile(...)`) before the "
            f"range test. Received: model {model.name!r}, not compiled"
        )
    test = LRRangeTest(start_lr, end_lr, num_steps, mode=mode, **kwargs)
    arguments = range_test_fit_arguments(x, y, batch_size, num_steps)
    check_step_callback(model, "find_lr_range")
    try:
        model.fit(**arguments, callbacks=[test], verbose=verbose)
    except BaseException:
        test.restore_model()  # `fit` calls no `on_train_end` when it fails
        raise
    result = read_range_test(test)
    if verbose:
        (min_low, min_high), (max_low, max_high) = result.lr_min_band, result.lr_max_band
        bands = f"bands {min_low:.4g}-{min_high:.4g} and {max_low:.4g}-{max_high:.4g}"
        print(f"LR range test: LRMIN={result.lr_min:.4g}, LRMAX={result.lr_max:.4g}; {bands} ({result.rule})")
    return result


def read_range_test(test):
    """Reads LRMIN and LRMAX off an `LRRangeTest` that has run.

    The rule (`LR_RULE`, `suggest_lr_range`) reads the moving average of
    each step's own loss, and the noise of those losses; each pick comes
    with its band (`pick_bands`). On
    CIFAR-10 the LRMAX band is wide on every seed (the curve's bottom is
    flat); a band wider than any recorded run of the recipes warns
    (`LRRangeWarning`, `warn_if_wide`).

    Args:
        test: An `LRRangeTest` after `fit`.

    Returns:
        An `LRRangeResult`.

    Example:

    >>> test = LRRangeTest()
    >>> model.fit(train_ds, epochs=2, callbacks=[test])
    >>> read_range_test(test).lr_max
    """
    lr_min, lr_max = suggest_lr_range(test.lrs, test.smoothed_losses, losses=test.losses, smoothing=test.smoothing)
    bands = pick_bands(test.lrs, test.losses, test.smoothed_losses, lr_min, lr_max, test.smoothing)
    warn_if_wide(*bands)
    return LRRangeResult(
        lrs=test.lrs,
        losses=test.losses,
        smoothed_losses=test.smoothed_losses,
        accuracies=test.accuracies,
        lr_min=lr_min,
        lr_max=lr_max,
        diverged=test.diverged,
        lr_min_band=bands[0],
        lr_max_band=bands[1],
    )
