"""Naming the first weight that holds NaN or Inf: a broken model is refused, never used or written."""

import numpy as np


def non_finite(name, values):
    """`"weight `name` holds NaN (3 of 1,728 values)"` for an array with NaN or Inf, else `None`."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return None
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    kinds = " and ".join(kind for kind, test in (("NaN", np.isnan), ("Inf", np.isinf)) if test(values).any())
    return f"weight `{name}` holds {kinds} ({int(bad.sum()):,} of {values.size:,} values)"


def first_non_finite_weight(weights):
    """What is wrong with the first of `weights` (Keras variables) holding NaN or Inf, or `None`.

    Args:
        weights: Keras variables, e.g. `model.weights`.

    Returns:
        A phrase naming the variable by its path and counting its bad
        values (`non_finite`), or `None` when every value is finite.

    Example:

    >>> first_non_finite_weight(model.weights)
    'weight `prep_conv/kernel` holds NaN (3 of 1,728 values)'
    """
    import keras

    for weight in weights:
        problem = non_finite(weight.path, keras.ops.convert_to_numpy(weight))
        if problem:
            return problem
    return None
