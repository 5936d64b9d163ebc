"""Strategies: choosing them, MirroredStrategy over two logical CPUs, a two-worker run."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from keras_s11.distribute import StrategyError, make_strategy, task_run_name, tf_config_cluster
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


@pytest.mark.multiworker
def test_two_workers_on_localhost_train_the_same_model(image_folder, tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    args = "--width 4 --precision float32 --verbose 0 --batch-size 32 --epochs 2 --peak-epoch 1"
    args += " --range-test-steps 30 --no-tta --strategy multi-worker --run-name mw"
    command = [sys.executable, TRAIN, "--data-dir", str(image_folder), "--out-dir", str(tmp_path), *args.split()]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config))
        processes.append(
            subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    try:
        outputs = [p.communicate(timeout=180) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, (_, stderr) in zip(processes, outputs):
        assert p.returncode == 0, stderr[-3000:]
    assert "MultiWorkerMirroredStrategy, 2 replicas" in outputs[0][0]
    chief, worker = tmp_path / "mw", tmp_path / "mw.worker-1"
    assert sorted(os.listdir(chief)) == sorted(os.listdir(worker))
    for name in ("lrs.json", "history.json", "lr_range_test.json"):
        assert json.loads((chief / name).read_text()) == json.loads((worker / name).read_text()), name
    from keras_s11.saving import load_model

    chief_weights, worker_weights = (load_model(p / "model.keras").get_weights() for p in (chief, worker))
    for a, b in zip(chief_weights, worker_weights, strict=True):
        np.testing.assert_array_equal(a, b)
