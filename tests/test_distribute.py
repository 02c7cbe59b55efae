"""MetaModel under tf.distribute: two devices and two workers train like one device.

The runs are subprocesses of `tests/distribute_helper.py`, started together: one splits the
CPU into two logical devices (which must happen before TensorFlow starts) and trains under
`MirroredStrategy` and then on one device; two more are the workers of a
`MultiWorkerMirroredStrategy` cluster on localhost (`TF_CONFIG`). All start from the same seed
and see the same global batches, so they must reach the same losses and weights up to
floating-point summation order: within 1e-5 (relative) here; measured differences are about
1e-7.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2l.distribute import is_chief

HELPER = Path(__file__).with_name("distribute_helper.py")
RTOL, ATOL = 1e-5, 1e-6


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("distributed")
    root = str(HELPER.parents[1])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    env.pop("TF_CONFIG", None)
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    procs = [subprocess.Popen([sys.executable, str(HELPER), "mirrored", str(out)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, str(HELPER), "worker", str(out)], env=dict(env, TF_CONFIG=config),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        for proc in procs:
            output, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, output[-4000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    results = {}
    for name in ("mirrored", "single", "worker0", "worker1"):
        with np.load(out / f"{name}.npz") as f:
            results[name] = {k: f[k] for k in f.files}
    for name in ("mirrored", "worker0", "worker1"):
        results[f"{name}-writes"] = json.loads((out / f"{name}-writes.json").read_text())
    results["folder"] = out
    return results


def weights(run: dict) -> list[np.ndarray]:
    return [run[f"w{i}"] for i in range(sum(k.startswith("w") for k in run))]


def assert_same_training(run: dict, reference: dict) -> None:
    np.testing.assert_allclose(run["loss"], reference["loss"], rtol=RTOL)
    for w, r in zip(weights(run), weights(reference), strict=True):
        np.testing.assert_allclose(w, r, rtol=RTOL, atol=ATOL)


def test_mirrored_strategy_on_two_devices_trains_like_one_device(runs):
    assert int(runs["mirrored"]["replicas"]) == 2 and int(runs["single"]["replicas"]) == 1
    assert_same_training(runs["mirrored"], runs["single"])
    assert runs["single"]["loss"][-1] < runs["single"]["loss"][0]  # it did train


def test_two_workers_train_like_one_device(runs):
    for worker in ("worker0", "worker1"):
        assert int(runs[worker]["replicas"]) == 2
        assert_same_training(runs[worker], runs["single"])
    for a, b in zip(weights(runs["worker0"]), weights(runs["worker1"]), strict=True):
        np.testing.assert_array_equal(a, b)  # all-reduce keeps the workers in lockstep


def test_checkpoints_under_strategies_are_written_once_by_the_chief(runs):
    for name in ("ckpt-mirrored", "ckpt-workers"):
        folder = runs["folder"] / name
        state = json.loads((folder / "checkpoint.json").read_text())
        assert (state["epoch"], state["step"]) == (3, 15)
        assert sorted(p.name for p in folder.glob("*.h5")) == ["epoch-0003.weights.h5"]
    # What each process itself wrote (its audited file-system changes): the chief wrote every
    # epoch's weights and state into the shared folder; the other worker wrote nothing there.
    assert runs["worker1-writes"] == []
    chief = {path for _, path in runs["worker0-writes"]}
    for folder, writes in (("ckpt-workers", chief),
                           ("ckpt-mirrored", {p for _, p in runs["mirrored-writes"]})):
        for epoch in (1, 2, 3):
            assert f"{folder}/epoch-{epoch:04d}.weights.h5" in writes, sorted(writes)
        assert f"{folder}/checkpoint.json" in writes


def test_the_chief_is_the_chief_task_or_else_worker_zero():
    def config(kind, index, chief=False):
        cluster = {"worker": ["a:1", "b:1"], **({"chief": ["c:1"]} if chief else {})}
        return {"TF_CONFIG": json.dumps({"cluster": cluster,
                                         "task": {"type": kind, "index": index}})}

    assert is_chief({}) and is_chief(config("worker", 0))
    assert not is_chief(config("worker", 1))
    assert is_chief(config("chief", 0, chief=True)) and not is_chief(config("worker", 0, True))
