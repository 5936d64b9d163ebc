"""TensorBoard logs of a run beyond Keras's own callback: the LR range test's curves."""

import os


def write_range_test_logs(log_dir, result):
    """Writes an LR range test's curves as TensorBoard scalars, one point per step.

    Scalars: `range_test/learning_rate`, `range_test/loss` (each step's own
    loss), `range_test/smoothed_loss`, `range_test/accuracy`, and the LRs found
    (`range_test/lr_min`, `range_test/lr_max`, at step 0) with their bands
    (`range_test/lr_min_band_low` and `_high`, the same for `lr_max`). TensorBoard plots
    them against the step; the LR of a step is the `learning_rate` scalar at
    that step.

    Args:
        log_dir: Folder of the logs (created if needed), e.g.
            `runs/NAME/tensorboard/lr_range_test`.
        result: A `keras_s11.lr_finder.LRRangeResult`.

    Example:

    >>> write_range_test_logs("runs/first/tensorboard/lr_range_test", find_lr_range(model, train_ds))
    """
    import tensorflow as tf

    os.makedirs(log_dir, exist_ok=True)
    writer = tf.summary.create_file_writer(os.fspath(log_dir))
    curves = {
        "learning_rate": result.lrs,
        "loss": result.losses,
        "smoothed_loss": result.smoothed_losses,
        "accuracy": result.accuracies,
    }
    with writer.as_default():
        for name, values in curves.items():
            for step, value in enumerate(values or []):
                if value is None:
                    continue
                tf.summary.scalar(f"range_test/{name}", float(value), step=step)
        tf.summary.scalar("range_test/lr_min", float(result.lr_min), step=0)
        tf.summary.scalar("range_test/lr_max", float(result.lr_max), step=0)
        for name in ("lr_min_band", "lr_max_band"):
            band = getattr(result, name, None)
            if band is not None:
                tf.summary.scalar(f"range_test/{name}_low", float(band[0]), step=0)
                tf.summary.scalar(f"range_test/{name}_high", float(band[1]), step=0)
    writer.close()
