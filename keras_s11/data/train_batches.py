"""The training input without TensorFlow: a `keras.utils.PyDataset` of augmented batches, an epoch a pass."""

import concurrent.futures
import os
import threading

import keras
import numpy as np

from keras_s11.data.checks import (
    POSITION_LIMIT,
    check_arrays,
    check_augmentation,
    check_batch_size,
    check_flip,
    train_steps,
)
from keras_s11.data.draws import alternating_flips, batch_draws, epoch_order, resolve_seed
from keras_s11.data.numpy_augment import augment_batch


class TrainBatches(keras.utils.PyDataset):
    """Seeded training batches, one epoch per pass: shuffle > batch > pad-crop, flip, cutout > normalise.

    `len(dataset)` is the number of full batches of an epoch (the last
    incomplete batch is dropped), so `fit(dataset, epochs=24)` needs no
    `steps_per_epoch`, as for any Keras `PyDataset`. The first pass is epoch
    `initial_epoch`; once every batch of the epoch has been read, in any
    order (`fit(shuffle=True)` reads them shuffled), `epoch` advances, so
    each pass of `fit` is the next epoch.

    Batch `s` of epoch `e` is a function of `(seed, e, s)` alone
    (`keras_s11.data.draws`): the same batches, bit for bit, as the tf.data
    pipeline `make_train_dataset` with the same arguments. A peek or an
    abandoned pass changes no batch; `batch_at(epoch, step)` reads any batch
    without moving the epoch. `fit(..., initial_epoch=e)` wants a dataset
    built with `initial_epoch=e`.

    Batches are computed in NumPy, vectorised over the batch, by a pool of
    `threads` threads that work `prefetch` batches ahead of the one asked
    for (across the end of an epoch into the next). Keras's own `workers`
    stay at 1.

    Args:
        images: uint8 array `(N, H, W, 3)`, kept in memory.
        labels: Integer array `(N,)`.
        batch_size: Global batch size.
        seed: Integer seed in `[0, 2**64)`; `None` draws one from NumPy's
            global generator (seeded by `keras.utils.set_random_seed`).
        initial_epoch: Epoch of the first pass.
        padding: Pixels of reflect padding before the random crop (0: no crop).
        cutout: Side of the cutout square (0: no cutout).
        flip: `True` (or `"random"`): a coin per image and epoch;
            `"alternating"`: each image the other way each epoch
            (`keras_s11.data.draws.alternating_flips`); `False`: none.
        threads: Threads computing batches ahead (default: up to 4, one per
            core); 0 computes each batch when asked, in the caller's thread.
        prefetch: Batches computed ahead (default: twice `threads`).

    Attributes:
        epoch: The epoch of the current pass.
        steps_per_epoch: Batches per epoch, `len(dataset)`.

    Example:

    >>> train = TrainBatches(x_train, y_train, 512, seed=0)
    >>> model.fit(train, epochs=24)
    """

    def __init__(
        self,
        images,
        labels,
        batch_size=512,
        seed=None,
        initial_epoch=0,
        padding=4,
        cutout=8,
        flip=True,
        threads=None,
        prefetch=None,
    ):
        super().__init__()
        images, labels = check_arrays(images, labels)
        check_batch_size(batch_size)
        check_augmentation(images, padding, cutout)
        flip = check_flip(flip)
        self.steps_per_epoch = train_steps(images, batch_size, initial_epoch)
        if threads is None:
            threads = min(4, os.cpu_count() or 1)
        for name, value in (("threads", threads), ("prefetch", prefetch)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"Argument `{name}` must be an integer >= 0. Received: {name}={value!r}")
        self.images = np.ascontiguousarray(images)
        self.labels = labels
        self.batch_size = int(batch_size)
        self.seed = resolve_seed(seed)
        self.epoch = int(initial_epoch)
        self.padding, self.cutout, self.flip = int(padding), int(cutout), flip
        self.threads = threads
        self.prefetch = (2 * threads if prefetch is None else prefetch) if threads else 0
        self._lock = threading.Lock()
        self._orders = {}  # epoch -> shuffle order, the latest two kept
        self._pending = {}  # position (epoch * steps + step) -> Future
        self._read_this_epoch = set()  # the steps of `epoch` read so far
        self._executor = None

    @property
    def num_batches(self):
        return self.steps_per_epoch

    def __len__(self):
        return self.steps_per_epoch

    def order(self, epoch):
        """The shuffle order of `epoch` (cached: computed once per epoch)."""
        with self._lock:
            order = self._orders.get(epoch)
        if order is None:
            order = epoch_order(self.seed, epoch, len(self.images))
            with self._lock:
                self._orders[epoch] = order
                for old in sorted(self._orders)[:-2]:
                    del self._orders[old]
        return order

    def batch_at(self, epoch, step):
        """The batch of `(epoch, step)`: `(float32 images, int32 labels)`; moves no epoch."""
        if not 0 <= epoch < POSITION_LIMIT or not 0 <= step < self.steps_per_epoch:
            raise IndexError(f"No batch at epoch {epoch}, step {step} ({self.steps_per_epoch} steps per epoch)")
        rows = self.order(epoch)[step * self.batch_size : (step + 1) * self.batch_size]
        height, width = self.images.shape[1:3]
        draws = batch_draws(self.seed, epoch, step, self.batch_size, height, width, self.padding, 0.5)
        if self.flip == "alternating":
            draws["flip"] = alternating_flips(self.seed, epoch, rows)
        batch = augment_batch(self.images, rows, draws, self.padding, self.cutout, self.flip is not None)
        return batch, self.labels[rows]

    def __getitem__(self, index):
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"Batch index must be in [0, {self.steps_per_epoch}). Received: index={index}")
        with self._lock:
            epoch = self.epoch
        batch = self._read(epoch * self.steps_per_epoch + int(index))
        with self._lock:
            if epoch == self.epoch:
                self._read_this_epoch.add(int(index))
                if len(self._read_this_epoch) == self.steps_per_epoch:  # the pass is over
                    self.epoch += 1
                    self._read_this_epoch.clear()
        return batch

    def _compute(self, position):
        return self.batch_at(*divmod(position, self.steps_per_epoch))

    def _read(self, position):
        """The batch at a position (`epoch * steps_per_epoch + step`), computed ahead by the pool."""
        if not self.threads:
            return self._compute(position)
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(self.threads, thread_name_prefix="TrainBatches")
            # Batches are pure functions of their position: whatever was computed
            # ahead is valid for any reader; drop what lies outside the window.
            for stale in [p for p in self._pending if not position <= p <= position + self.prefetch]:
                self._pending.pop(stale).cancel()
            for ahead in range(position, position + self.prefetch + 1):
                if ahead not in self._pending:
                    self._pending[ahead] = self._executor.submit(self._compute, ahead)
            future = self._pending.pop(position)
        return future.result()

    def close(self):
        """Stops the threads (a later batch starts them again)."""
        with self._lock:
            executor, self._executor = self._executor, None
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


def make_train_batches(images, labels, batch_size=512, seed=None, initial_epoch=0, padding=4, cutout=8, flip=True):
    """Builds the TensorFlow-free training input: a `TrainBatches` PyDataset.

    The same batches as `keras_s11.data.make_train_dataset` (tf.data) with
    the same arguments, for Keras's JAX and PyTorch backends (or TensorFlow
    without tf.data). One epoch per pass: `fit(dataset, epochs=24)`.

    Args:
        images: uint8 array `(N, H, W, 3)`.
        labels: Integer array `(N,)`.
        batch_size: Global batch size.
        seed: Integer seed; `None` draws one from NumPy's global generator.
        initial_epoch: Epoch of the first batch (to resume a run).
        padding, cutout, flip: As in `TrainBatches`.

    Returns:
        A `TrainBatches` of `(float32 images, int32 labels)` batches.

    Raises:
        ValueError: For arrays of the wrong shape, a bad `batch_size`,
            `seed`, `initial_epoch`, `padding`, `cutout` or `flip`, or fewer
            images than one batch.

    Example:

    >>> train = make_train_batches(x_train, y_train, 512, seed=0)
    >>> x, y = train[0]  # a peek changes nothing
    >>> model.fit(train, epochs=24)
    """
    return TrainBatches(images, labels, batch_size, seed, initial_epoch, padding, cutout, flip)
