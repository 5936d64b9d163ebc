"""The input pipelines for the Keras backend in use: tf.data on TensorFlow, `PyDataset` elsewhere."""

import keras


def uses_tf_data(backend=None):
    """Whether `backend` (default: Keras's current one) gets the tf.data pipelines."""
    return (backend or keras.backend.backend()) == "tensorflow"


def make_train_input(images, labels, batch_size=512, seed=None, initial_epoch=0, backend=None, **augmentation):
    """The training input for a backend: the same batches either way.

    On TensorFlow, `make_train_dataset` (tf.data, parallel, works with
    tf.distribute); on JAX and PyTorch, `make_train_batches` (NumPy, no
    TensorFlow imported). Both are one epoch long, each pass the next
    epoch, and a function of `(seed, epoch, step)`: `fit(train, epochs=24)`.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`.
        batch_size: Global batch size.
        seed: Integer seed; `None` draws one from NumPy's global generator.
        initial_epoch: Epoch of the first batch (to resume a run).
        backend: `"tensorflow"`, `"jax"` or `"torch"`; default Keras's.
        **augmentation: `padding`, `cutout`, `flip`.

    Returns:
        A `tf.data.Dataset` or a `keras_s11.data.TrainBatches`.
    """
    if uses_tf_data(backend):
        from keras_s11.data.pipeline import make_train_dataset

        return make_train_dataset(images, labels, batch_size, seed=seed, initial_epoch=initial_epoch, **augmentation)
    from keras_s11.data.train_batches import make_train_batches

    return make_train_batches(images, labels, batch_size, seed=seed, initial_epoch=initial_epoch, **augmentation)


def make_eval_input(images, labels=None, batch_size=512, backend=None):
    """The evaluation input (or, without labels, the inference input) for a backend.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`, or `None` for images only.
        batch_size: Batch size.
        backend: `"tensorflow"`, `"jax"` or `"torch"`; default Keras's.

    Returns:
        `make_eval_dataset`/`make_predict_dataset` (tf.data) on TensorFlow,
        else a `keras_s11.data.EvalBatches`; the same normalised values.
    """
    if uses_tf_data(backend):
        from keras_s11.data.pipeline import make_eval_dataset, make_predict_dataset

        if labels is None:
            return make_predict_dataset(images, batch_size)
        return make_eval_dataset(images, labels, batch_size)
    from keras_s11.data.eval_batches import make_eval_batches

    return make_eval_batches(images, labels, batch_size)


def make_inputs(train, evaluation, batch_size=512, seed=None, initial_epoch=0, backend=None):
    """The `(train, eval)` inputs of a training run for a backend, in one call.

    Args:
        train: `(images, labels)` to train on.
        evaluation: `(images, labels)` to validate or test on.
        batch_size: Batch size of both.
        seed: Seed of the training input.
        initial_epoch: Epoch the training starts (or resumes) at.
        backend: `"tensorflow"`, `"jax"` or `"torch"`; default Keras's.

    Returns:
        `(train_input, eval_input)`: see `make_train_input` and `make_eval_input`.

    Example:

    >>> train_ds, test_ds = make_inputs((x_train, y_train), (x_test, y_test), 512, seed=0)
    >>> model.fit(train_ds, epochs=24, validation_data=test_ds, shuffle=False)
    """
    train_input = make_train_input(*train, batch_size, seed=seed, initial_epoch=initial_epoch, backend=backend)
    return train_input, make_eval_input(*evaluation, batch_size=batch_size, backend=backend)
