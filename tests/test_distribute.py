"""Strategies: choosing them, MirroredStrategy over two logical CPUs, a two-worker run."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_s11.distribute import StrategyError, make_strategy, task_run_name, tf_config_cluster
from keras_s11.resume import backed_up_epochs
from tests.test_resume import load_weights, wait_for_backup
from tests.test_train_script import ROOT, TRAIN

CLUSTER = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}


def test_tf_config_is_read_and_checked():
    assert tf_config_cluster({}) is None and tf_config_cluster({"TF_CONFIG": '{"task": {}}'}) is None
    assert tf_config_cluster({"TF_CONFIG": json.dumps(CLUSTER)}) == CLUSTER["cluster"]
    with pytest.raises(StrategyError, match="not valid JSON"):
        tf_config_cluster({"TF_CONFIG": "{cluster"})
    with pytest.raises(StrategyError, match="no task"):
        tf_config_cluster({"TF_CONFIG": json.dumps({"cluster": CLUSTER["cluster"]})})
    with pytest.raises(StrategyError, match="not in its cluster"):
        tf_config_cluster({"TF_CONFIG": json.dumps(dict(CLUSTER, task={"type": "worker", "index": 2}))})


def test_each_worker_but_the_chief_gets_its_own_run_name():
    environ = {"TF_CONFIG": json.dumps(CLUSTER)}
    assert task_run_name("r", "multi-worker", environ) == "r.worker-1"
    assert task_run_name("r", "auto", environ) == "r.worker-1"
    assert task_run_name("r", "default", environ) == "r"  # no cluster in use
    chief = {"TF_CONFIG": json.dumps(dict(CLUSTER, task={"type": "worker", "index": 0}))}
    assert task_run_name("r", "multi-worker", chief) == "r" and task_run_name("r", "multi-worker", {}) == "r"


def test_a_lost_worker_is_named_only_in_a_cluster():
    import tensorflow as tf

    from keras_s11.distribute import describe_lost_worker

    message = (
        "{{function_node __wrapped__CollectiveReduceV2_device_/job:worker/replica:0/task:0/device:CPU:0}} "
        "Collective ops is aborted by: recvmsg:Connection reset by peer\nAdditional GRPC error information: ..."
    )
    lost = tf.errors.UnavailableError(None, None, message)
    environ = {"TF_CONFIG": json.dumps(CLUSTER)}
    assert describe_lost_worker(lost, environ) == (
        "lost contact with another worker of the cluster "
        "(Collective ops is aborted by: recvmsg:Connection reset by peer)"
    )
    traced = tf.errors.UnavailableError(None, None, "Graph execution error:\n\nDetected at node X\n" + message)
    assert describe_lost_worker(traced, environ) == describe_lost_worker(lost, environ)
    other = tf.errors.UnavailableError(None, None, "Socket closed\nmore")
    assert describe_lost_worker(other, environ) == "lost contact with another worker of the cluster (Socket closed)"
    assert describe_lost_worker(lost, {}) is None  # no cluster: not a lost worker
    assert describe_lost_worker(tf.errors.InternalError(None, None, message), environ) is None
    assert describe_lost_worker(OSError("reset"), environ) is None


def test_strategies_that_cannot_run_here_say_why(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(StrategyError, match="needs TF_CONFIG"):
        make_strategy("multi-worker")
    with pytest.raises(ValueError, match="name"):
        make_strategy("horovod")
    monkeypatch.setenv("TPU_NAME", "no-such-tpu-here")
    with pytest.raises(StrategyError, match="no TPU found at 'no-such-tpu-here'"):
        make_strategy("auto")


def test_mirrored_over_two_cpus_trains_like_one_device():
    """In float64 (see tests/mirrored_run.py), so that "the same" can be tight."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "mirrored_run.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    single, mirrored, unsynced = runs["single"], runs["mirrored"], runs["mirrored_unsynced"]
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    # The first step sees the same global batch of 32 and (synchronized) BN statistics.
    assert mirrored["range_test_losses"][0] == pytest.approx(
        single["range_test_losses"][0], rel=1e-6
    )  # the loss is float32
    # Without synchronized BN each replica normalises its 16 images: another loss.
    assert abs(unsynced["range_test_losses"][0] - single["range_test_losses"][0]) > 1e-4
    # The range test: same LRs, same per-step losses, model restored.
    assert mirrored["range_test_lrs"] == single["range_test_lrs"]
    np.testing.assert_allclose(mirrored["range_test_losses"], single["range_test_losses"], rtol=1e-6)
    assert mirrored["restored_after_range_test"] and single["restored_after_range_test"]
    # One cycle: the same LR at every step, the same training.
    assert mirrored["one_cycle_lrs"] == single["one_cycle_lrs"] and len(single["one_cycle_lrs"]) == 16
    np.testing.assert_allclose(mirrored["epoch_losses"], single["epoch_losses"], rtol=1e-6)
    for a, b in zip(mirrored["weights"], single["weights"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# Tiny and resumable: 7 steps per epoch on the fixture's 120 images (a global batch of 16, 8 per worker).
TWO_WORKERS = (
    "--width 4 --precision float32 --verbose 0 --batch-size 16 --epochs 4 --peak-epoch 2"
    " --range-test-steps 30 --no-tta --no-report --strategy multi-worker"
).split()


def start_workers(image_folder, out_dir, run_name, workers):
    """Starts one `scripts/train.py` process per worker of a loopback cluster."""
    command = [sys.executable, TRAIN, "--data-dir", str(image_folder), "--out-dir", str(out_dir)]
    command += [*TWO_WORKERS, "--run-name", run_name]
    processes = []
    for index in range(len(workers)):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config))
        processes.append(
            subprocess.Popen(command, cwd=out_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    return processes


def finish(processes, timeout=240):
    """Each process's `(returncode, stdout, stderr)`; none is left running."""
    try:
        outputs = [p.communicate(timeout=timeout) for p in processes]
    finally:
        for p in processes:
            p.kill()
    return [(p.returncode, *output) for p, output in zip(processes, outputs, strict=True)]


def assert_same_run(run, reference):
    assert sorted(os.listdir(run)) == sorted(os.listdir(reference))
    for name in ("lrs.json", "history.json", "lr_range_test.json", "train_steps.json"):
        assert json.loads((run / name).read_text()) == json.loads((reference / name).read_text()), name
    for a, b in zip(load_weights(run / "model.keras"), load_weights(reference / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory):
    """An uninterrupted two-worker run: its output folder and each worker's output."""
    from tests.conftest import write_image_folder

    image_folder = write_image_folder(tmp_path_factory.mktemp("data"))
    out_dir = tmp_path_factory.mktemp("runs")
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    return image_folder, out_dir, finish(start_workers(image_folder, out_dir, "whole", workers))


@pytest.mark.multiworker
def test_two_workers_on_localhost_train_the_same_model(two_worker_run):
    _, out_dir, results = two_worker_run
    for returncode, _, stderr in results:
        assert returncode == 0, stderr[-3000:]
    assert "MultiWorkerMirroredStrategy, 2 replicas" in results[0][1]
    assert sorted(os.listdir(out_dir)) == ["whole", "whole.worker-1"]
    assert_same_run(out_dir / "whole.worker-1", out_dir / "whole")


def backup_epochs(out_dir, run_names):
    """The epochs each stopped run's backup holds (0 without one)."""
    return [backed_up_epochs(out_dir / f".{name}.partial") for name in run_names]


@pytest.mark.multiworker
def test_a_lost_worker_stops_the_other_and_both_resume(two_worker_run, tmp_path):
    """The chief dies mid-run; worker 1 stops with one line; both restarted end as the uninterrupted run.

    (A dead worker 1 gives the chief the same line.)
    """
    image_folder, reference, _ = two_worker_run
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    names = ["lost", "lost.worker-1"]
    chief, worker = start_workers(image_folder, tmp_path, "lost", workers)
    for name, process in zip(names, (chief, worker), strict=True):
        wait_for_backup(tmp_path / f".{name}.partial" / "backup" / "state.json", 2, process, timeout=180)
    chief.kill()  # in epoch 3: an epoch takes far longer than the 20 ms between two looks at the backups
    started = time.monotonic()
    (returncode, stdout, stderr), _ = finish([worker, chief], timeout=120)
    assert time.monotonic() - started < 60  # TensorFlow's heartbeats: no hang
    assert backup_epochs(tmp_path, names) == [2, 2]
    errors = [line for line in (stdout + stderr).splitlines() if line.startswith("error:")]
    assert returncode == 1 and len(errors) == 1 and "Traceback" not in stderr, stdout + stderr
    assert errors[0].startswith("error: lost contact with another worker of the cluster (Collective ops is aborted")
    assert errors[0].endswith(
        f"); the state after epoch 2 is kept in {tmp_path / '.lost.worker-1.partial'}: "
        "restart every worker with --resume and --run-name lost"
    )

    resumed = finish(start_workers(image_folder, tmp_path, "lost", workers))
    for returncode, stdout, stderr in resumed:
        assert returncode == 0, stderr[-3000:]
        assert "after epoch 2" in stdout and "LR range test" not in stdout
    assert sorted(os.listdir(tmp_path)) == ["lost", "lost.worker-1"]
    assert_same_run(tmp_path / "lost", reference / "whole")
    assert_same_run(tmp_path / "lost.worker-1", reference / "whole")
