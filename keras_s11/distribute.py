"""tf.distribute strategies for one GPU, several GPUs, several machines or a TPU.

Create the strategy before anything else touches TensorFlow (a
`MultiWorkerMirroredStrategy` must exist before the first op runs), then
build, compile and train the model under `strategy.scope()`. The batch size
given to the input pipeline stays the global batch: each of the
`strategy.num_replicas_in_sync` replicas gets its share.

TensorFlow is imported on first use: reading `TF_CONFIG` and the names of
the strategies does not start it. On Keras's JAX and PyTorch backends
`make_strategy("auto")` (or `"default"`) gives a `SingleDeviceStrategy`,
whose scope does nothing, and the other names fail with one line; the
helpers below leave it (and `PyDataset` inputs) alone, so one training flow
runs on every backend.
"""

import glob
import json
import os
import re
import sys

from keras_s11 import cli
from keras_s11.single_device import SingleDeviceStrategy

STRATEGIES = ("auto", "default", "mirrored", "multi-worker", "tpu")


class StrategyError(RuntimeError):
    """Raised when the requested strategy cannot run here."""


def tf_config_cluster(environ=None):
    """The cluster that `TF_CONFIG` describes, or `None` when it names none.

    Args:
        environ: Mapping to read `TF_CONFIG` from (default `os.environ`).

    Returns:
        The `cluster` dict of `TF_CONFIG` (job name > list of addresses),
        or `None` if `TF_CONFIG` is unset or has no cluster.

    Raises:
        StrategyError: If `TF_CONFIG` is not valid JSON or is malformed.
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(config, dict):
        raise StrategyError(f"TF_CONFIG must be a JSON object, got {type(config).__name__}")
    cluster = config.get("cluster")
    if not cluster:
        return None
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise StrategyError('TF_CONFIG names a cluster but no task: add "task": {"type": "worker", "index": I}')
    addresses = cluster.get(task["type"])
    if not isinstance(addresses, list) or not 0 <= int(task["index"]) < len(addresses):
        raise StrategyError(f"TF_CONFIG task {task} is not in its cluster {cluster}")
    return cluster


def tpu_address(environ=None):
    """Where a TPU is to be found, or `None` when nothing points at one.

    `TPU_NAME` (Cloud TPU node) or `COLAB_TPU_ADDR` (Colab) when set,
    `"local"` on a TPU VM (which shows `/dev/accel*` devices).
    """
    environ = os.environ if environ is None else environ
    for variable in ("TPU_NAME", "COLAB_TPU_ADDR"):
        if environ.get(variable):
            return environ[variable]
    return "local" if glob.glob("/dev/accel*") else None


def _tpu_strategy(address):
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as error:  # the resolver raises many types: bad name, no network, no TPU system
        first_line = cli.first_line(error, limit=200)
        raise StrategyError(f"no TPU found at {address!r} (set TPU_NAME, or run on a TPU VM): {first_line}") from None


def require_cluster(environ=None):
    """Raises `StrategyError` unless `TF_CONFIG` names a cluster (needed by multi-worker training)."""
    if tf_config_cluster(environ) is None:
        raise StrategyError(
            "`strategy='multi-worker'` needs TF_CONFIG naming the cluster and this task "
            '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}})'
        )


def make_strategy(name="auto", devices=None):
    """Builds a `tf.distribute` strategy by name.

    `auto` picks, in order: `TPUStrategy` when a TPU is found (see
    `tpu_address`), `MultiWorkerMirroredStrategy` when `TF_CONFIG` names a
    cluster, `MirroredStrategy` with more than one GPU, and the default
    (single-device) strategy otherwise.

    Args:
        name: One of `STRATEGIES`.
        devices: Devices for `mirrored` (default: every GPU, else the CPU),
            e.g. `["/cpu:0", "/cpu:1"]` after splitting the CPU with
            `tf.config.set_logical_device_configuration`.

    Returns:
        A `tf.distribute.Strategy`; on other Keras backends a
        `SingleDeviceStrategy` for `auto` and `default`.

    Raises:
        ValueError: If `name` is not one of `STRATEGIES`.
        StrategyError: If the strategy cannot run here (no TPU for `tpu`,
            no cluster in `TF_CONFIG` for `multi-worker`, a tf.distribute
            strategy on the JAX or PyTorch backend).

    Example:

    >>> strategy = make_strategy("auto")
    >>> with strategy.scope():
    ...     model = build_model()
    ...     model.compile(optimizer=..., loss=...)
    >>> model.fit(train_ds, epochs=24, shuffle=False)  # train_ds shuffles itself
    """
    if name not in STRATEGIES:
        raise ValueError(f"Argument `name` must be one of {STRATEGIES}. Received: name={name!r}")
    from keras_s11.backends import keras_backend

    backend = keras_backend()
    if backend != "tensorflow":
        if name in ("auto", "default"):
            return SingleDeviceStrategy()
        raise StrategyError(
            f"strategy {name!r} is a tf.distribute strategy and needs Keras's TensorFlow backend; "
            f"Keras runs on {backend} here: set KERAS_BACKEND=tensorflow, or train on one device"
        )
    import tensorflow as tf

    if devices is not None and name != "mirrored":
        raise ValueError(f"Argument `devices` applies to name='mirrored' only. Received: name={name!r}")
    if name == "auto":
        if tpu_address() is not None:
            name = "tpu"
        elif tf_config_cluster() is not None:
            name = "multi-worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "tpu":
        return _tpu_strategy(tpu_address() or "local")
    if name == "multi-worker":
        require_cluster()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


def task_run_name(run_name, strategy_name, environ=None):
    """The run folder name for this task of a multi-worker cluster.

    Every worker keeps its own run folder (and backup), so that runs on
    machines without a shared disk can resume too: the chief (`chief`, or
    `worker` 0 when there is no chief) writes `run_name`, any other task
    `run_name.TYPE-INDEX`, e.g. `run_name.worker-1`.

    Args:
        run_name: The run's name.
        strategy_name: The requested strategy; only `multi-worker` and
            `auto` (with a cluster in `TF_CONFIG`) use a cluster.
        environ: Mapping to read `TF_CONFIG` from (default `os.environ`).
    """
    environ = os.environ if environ is None else environ
    if strategy_name not in ("auto", "multi-worker"):
        return run_name
    cluster = tf_config_cluster(environ)
    if cluster is None or (strategy_name == "auto" and tpu_address(environ) is not None):
        return run_name
    task = json.loads(environ["TF_CONFIG"])["task"]
    chief = ("chief", 0) if "chief" in cluster else ("worker", 0)
    if (task["type"], int(task["index"])) == chief:
        return run_name
    return f"{run_name}.{task['type']}-{int(task['index'])}"


def describe_lost_worker(error, environ=None):
    """What a multi-worker error says about a lost worker, in one line; `None` for any other error.

    When a worker of a `MultiWorkerMirroredStrategy` cluster dies or stops
    answering, TensorFlow aborts the collective ops of the others: a dead
    worker's connection fails within seconds, a frozen one stops sending
    heartbeats. Each of the others then raises `UnavailableError` from the
    step it was in.

    Args:
        error: The exception a training raised.
        environ: Mapping to read `TF_CONFIG` from (default `os.environ`).

    Returns:
        E.g. `"lost contact with another worker of the cluster (Collective
        ops is aborted by: recvmsg:Connection reset by peer)"`, or `None`.
    """
    tf = sys.modules.get("tensorflow")  # the error can only come from TensorFlow, if it was imported
    if tf is None or not isinstance(error, tf.errors.UnavailableError) or tf_config_cluster(environ) is None:
        return None
    # The cause's line: first in an eager op's message, below "Graph execution error:" in a traced step's.
    cause = re.search(r"Collective ops is aborted by: [^\n]*", str(error))
    cause = cause.group(0) if cause else cli.first_line(error)
    return f"lost contact with another worker of the cluster ({cause.rstrip(': ')})"


def describe_strategy(strategy):
    """A short description, e.g. `"MirroredStrategy, 2 replicas"`."""
    if isinstance(strategy, SingleDeviceStrategy):
        from keras_s11.backends import keras_backend

        return f"one device ({keras_backend()} backend), 1 replica"
    import tensorflow as tf

    name = type(strategy).__name__
    for public in ("MultiWorkerMirroredStrategy", "MirroredStrategy", "TPUStrategy"):
        if isinstance(strategy, getattr(tf.distribute, public)):
            name = public
            break
    else:
        if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy():
            name = "default strategy"
    replicas = strategy.num_replicas_in_sync
    return f"{name}, {replicas} replica{'s' if replicas != 1 else ''}"


def shard_by_data(dataset):
    """Sets the auto-shard policy of an in-memory dataset to DATA.

    `tf.data` cannot shard a dataset built from tensors by file; with the
    DATA policy every worker builds the same (seeded) pipeline and keeps its
    own share of each global batch, instead of warning and falling back.
    Any other input (a `keras.utils.PyDataset`) is returned unchanged.
    """
    if not hasattr(dataset, "with_options"):
        return dataset
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# The Keras versions whose TensorFlow trainer fails under MultiWorkerMirroredStrategy
# (keras-team/keras#20585), as tested: 3.10 (a notebook host's) to 3.15 (the lock's).
# A newer Keras is left unpatched: the multi-worker test says whether it still needs it.
MULTI_WORKER_PATCHED_KERAS = ((3, 10), (3, 15))


def needs_multi_worker_patch(version=None):
    """Whether `adapt_for_multi_worker` patches this Keras version (default: the installed one)."""
    from keras_s11.versions import keras_version, parse_version

    major_minor = (parse_version(version) if version else keras_version())[:2]
    low, high = MULTI_WORKER_PATCHED_KERAS
    return low <= major_minor <= high


def adapt_for_multi_worker(model, strategy, dataset):
    """Lets `model.fit` and `model.evaluate` run under `MultiWorkerMirroredStrategy`.

    Keras 3.15's TensorFlow trainer fails there in two places (see
    keras-team/keras#20585): at the start of `fit`/`evaluate` it reduces a
    batch across workers to build the model's metrics symbolically ("Attempt
    to convert a value (PerReplica...) to a Tensor"), and after each step it
    reduces the scalar logs with `strategy.reduce("MEAN", v, axis=0)`, which
    a scalar has no axis for. This builds the metrics, loss and optimizer
    once from the dataset's element spec (turning the per-call build off for
    this model), and gives the step's scalar logs a leading axis of length 1,
    so that the reduction is the mean over the replicas, as Keras computes
    it under `MirroredStrategy`. Other strategies are left alone.

    Args:
        model: A compiled model, created under `strategy.scope()`.
        strategy: The strategy in use.
        dataset: The (undistributed) training `tf.data.Dataset`.

    Only on the Keras versions `MULTI_WORKER_PATCHED_KERAS` names.

    Returns:
        `True` if the model was adapted, `False` if nothing was needed.
    """
    if isinstance(strategy, SingleDeviceStrategy) or not needs_multi_worker_patch():
        return False
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    with strategy.scope():
        model._symbolic_build(data_batch=dataset.element_spec)

    def already_built(iterator=None, data_batch=None):
        return None

    def with_axis(step):
        def wrapped(data):
            return {
                name: tf.reshape(value, [1]) if value.shape.rank == 0 else value for name, value in step(data).items()
            }

        return wrapped

    model._maybe_symbolic_build = already_built
    model.train_step = with_axis(model.train_step)
    model.test_step = with_axis(model.test_step)
    return True


def values_across_workers(strategy, value):
    """Every worker's copy of an integer `value`, e.g. to check that workers agree.

    Under `MultiWorkerMirroredStrategy` the values are all-gathered (one per
    replica); with any other strategy there is one process, and one value.

    Args:
        strategy: The strategy in use.
        value: A Python integer known to this worker.

    Returns:
        A list of integers.
    """
    if isinstance(strategy, SingleDeviceStrategy):
        return [int(value)]
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return [int(value)]
    per_replica = strategy.run(lambda: tf.constant([int(value)], tf.int64))
    return [int(v) for v in strategy.gather(per_replica, axis=0).numpy()]
