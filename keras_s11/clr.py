"""Cyclical learning rates (Smith, 2017): triangular, triangular2 and exp_range."""

import numpy as np

CLR_MODES = ("triangular", "triangular2", "exp_range")


def validate_cyclic_lr(base_lr, max_lr, step_size, mode="triangular", gamma=1.0):
    """Raises `ValueError` naming the argument if the policy is ill-formed."""
    if not 0 <= base_lr < max_lr:
        raise ValueError(
            f"Arguments must satisfy 0 <= `base_lr` < `max_lr`. Received: base_lr={base_lr}, max_lr={max_lr}"
        )
    if not isinstance(step_size, (int, np.integer)) or step_size < 1:
        raise ValueError(f"Argument `step_size` must be a positive integer. Received: step_size={step_size!r}")
    if mode not in CLR_MODES:
        raise ValueError(f"Argument `mode` must be one of {CLR_MODES}. Received: mode={mode!r}")
    if not 0 < gamma <= 1:
        raise ValueError(f"Argument `gamma` must be in (0, 1]. Received: gamma={gamma}")


def cyclic_lr(step, base_lr, max_lr, step_size, mode="triangular", gamma=1.0):
    """Learning rate of Smith's cyclical policy at training step(s) `step`.

    The same formula as keras-contrib's `CyclicLR` and PyTorch's
    `CyclicLR`: with `cycle = floor(1 + step / (2 * step_size))` and
    `x = |step / step_size - 2 * cycle + 1|`,

        lr = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale

    where `scale` is 1 (`triangular`), `1 / 2 ** (cycle - 1)` (`triangular2`:
    the amplitude halves every cycle) or `gamma ** step` (`exp_range`). The
    LR is `base_lr` at steps `0, 2 * step_size, 4 * step_size, ...` and peaks
    at the odd multiples of `step_size`.

    Args:
        step: Step number(s) (0-based), an int or an array of them.
        base_lr: Lower bound of the cycle.
        max_lr: Upper bound of the cycle (reached in the first cycle).
        step_size: Steps in half a cycle (from `base_lr` up to the peak).
        mode: `"triangular"`, `"triangular2"` or `"exp_range"`.
        gamma: Decay per step of `exp_range` (ignored by the other modes).

    Returns:
        A float for a scalar `step`, else a float64 array shaped like `step`.

    Raises:
        ValueError: If an argument is out of range, or a step is negative.
    """
    validate_cyclic_lr(base_lr, max_lr, step_size, mode, gamma)
    steps = np.asarray(step, dtype=np.float64)
    if np.any(steps < 0):
        raise ValueError(f"Argument `step` must be >= 0. Received: step={step!r}")
    cycle = np.floor(1 + steps / (2 * step_size))
    x = np.abs(steps / step_size - 2 * cycle + 1)
    if mode == "triangular":
        scale = np.ones_like(steps)
    elif mode == "triangular2":
        scale = 1 / 2 ** (cycle - 1)
    else:
        scale = gamma**steps
    lrs = base_lr + (max_lr - base_lr) * np.maximum(0.0, 1 - x) * scale
    return float(lrs) if lrs.ndim == 0 else lrs
