"""What `find_lr_range` hands to `fit`: the inputs `fit` takes, made long enough for the range test."""

import math
import numbers

import keras

# `fit`'s default batch size for arrays.
DEFAULT_BATCH_SIZE = 32

INPUT_KINDS = (
    "a NumPy array (a list or dict of arrays for a model with several inputs), "
    "a tf.data.Dataset or a keras.utils.PyDataset"
)


def is_dataset(x):
    """Whether `x` is a `tf.data.Dataset` or a `keras.utils.PyDataset` (checked without importing TensorFlow)."""
    return isinstance(x, keras.utils.PyDataset) or (hasattr(x, "repeat") and hasattr(x, "element_spec"))


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def range_test_fit_arguments(x, y=None, batch_size=None, num_steps=100):
    """The arguments of the `fit` that runs `num_steps` steps of a range test on `x` (and `y`).

    A dataset is repeated (`repeat_input`) and run for one epoch of
    `num_steps` steps, unshuffled. Arrays are batched (`batch_size`, 32 by
    default, as in `fit`) and run for as many epochs as `num_steps` needs,
    shuffled anew each epoch by `fit` itself, so the batches are
    deterministic after `keras.utils.set_random_seed`. (Keras's array
    adapter stops an epoch at the end of the arrays, with "Your input ran
    out of data", when `steps_per_epoch` asks for more: hence epochs, not
    `steps_per_epoch`.) The `LRRangeTest` callback stops `fit` after
    `num_steps` steps.

    Args:
        x: Input data, as `fit` takes it: a NumPy array or other array
            (a list or dict of them for a model with several inputs), a
            `tf.data.Dataset` or a `keras.utils.PyDataset` of
            `(inputs, targets)` batches.
        y: Targets for arrays (an array, or a list or dict of them);
            `None` for a dataset.
        batch_size: Batch size for arrays; `None` for a dataset.
        num_steps: Number of steps of the range test.

    Returns:
        A dict of keyword arguments for `model.fit`.

    Raises:
        TypeError: If `x` (or `y`) is of a kind not taken.
        ValueError: If `y` or `batch_size` is given with a dataset,
            `batch_size` is not a positive integer, or the arrays are empty
            or hold different numbers of samples.
    """
    if is_dataset(x):
        for name, value in (("y", y), ("batch_size", batch_size)):
            if value is not None:
                shown = f"{name}={value!r}" if is_number(value) else f"{name} of type {type(value).__name__}"
                raise ValueError(
                    f"Argument `{name}` must be None when `x` is a dataset (its batches hold the inputs and "
                    f"the targets). Received: {shown}"
                )
        return dict(x=repeat_input(x), steps_per_epoch=num_steps, epochs=1, shuffle=False)
    samples = _samples(x, "x")
    if y is not None:
        y_samples = _samples(y, "y")
        if y_samples != samples:
            raise ValueError(
                f"Arguments `x` and `y` must hold the same number of samples. Received: {samples} and {y_samples}"
            )
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    batches = math.ceil(samples / batch_size)
    return dict(x=x, y=y, batch_size=int(batch_size), epochs=math.ceil(num_steps / batches), shuffle=True)


def _samples(data, name):
    """Number of samples of an array, or of the arrays of a list, tuple or dict (all the same)."""
    if isinstance(data, dict):
        leaves, kind = list(data.values()), "dict"
    elif isinstance(data, (list, tuple)):
        leaves, kind = list(data), type(data).__name__
    else:
        leaves, kind = [data], None
    if not leaves or not all(_is_array(leaf) for leaf in leaves):
        held = ", ".join(sorted({type(leaf).__name__ for leaf in leaves})) or "nothing"
        received = f"of type {type(data).__name__}" + (f" holding {held}" if kind else "")
        if name == "x":
            expected = INPUT_KINDS
        else:
            expected = "an array of targets (a list or dict of arrays for a model with several outputs), or None"
        raise TypeError(f"Argument `{name}` must be {expected}. Received: {name} {received}")
    counts = sorted({int(leaf.shape[0]) for leaf in leaves})
    if len(counts) > 1:
        raise ValueError(
            f"Argument `{name}` must hold arrays of the same number of samples. Received: {name} with {counts}"
        )
    if counts[0] == 0:
        raise ValueError(f"Argument `{name}` must hold at least one sample. Received: {name} with 0 samples")
    return counts[0]


def _is_array(value):
    """An array `fit` batches: NumPy, a backend tensor, a pandas frame; at least one axis."""
    shape = getattr(value, "shape", None)
    return shape is not None and len(shape) >= 1 and not is_dataset(value)


def repeat_input(dataset):
    """`dataset` as an input that does not run out: a range test needs more steps than an epoch may hold.

    A `tf.data.Dataset` is `.repeat()`-ed; an endless `keras.utils.PyDataset`
    (`num_batches` is `None`) is returned as it is; a finite one is wrapped
    so that batch `i` is its batch `i % len(dataset)`. A wrapped dataset's
    `on_epoch_end` is not called. Either way each pass counts as an epoch of
    the training inputs (`make_train_dataset`, `make_train_batches`), as in
    `fit`.

    Args:
        dataset: A `tf.data.Dataset` or a `keras.utils.PyDataset`.

    Returns:
        An endless input for `fit`.

    Raises:
        TypeError: For any other kind of input.
    """
    if isinstance(dataset, keras.utils.PyDataset):
        if dataset.num_batches is None:
            return dataset
        if dataset.num_batches < 1:
            raise ValueError("Argument `dataset` holds no batch.")
        return _RepeatedPyDataset(dataset)
    if hasattr(dataset, "repeat") and hasattr(dataset, "element_spec"):  # tf.data, without importing TensorFlow
        return dataset.repeat()
    raise TypeError(
        "Argument `dataset` must be a tf.data.Dataset or a keras.utils.PyDataset. "
        f"Received: dataset of type {type(dataset).__name__}"
    )


class _RepeatedPyDataset(keras.utils.PyDataset):
    """Batch `i` of a finite `PyDataset`, modulo its length, without end; read as the dataset asks."""

    def __init__(self, dataset):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=dataset.use_multiprocessing,
            max_queue_size=dataset.max_queue_size,
        )
        self.dataset = dataset

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return self.dataset[index % self.dataset.num_batches]
