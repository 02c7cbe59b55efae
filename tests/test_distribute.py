"""Training under tf.distribute: two devices and two workers train like one device.

The runs are subprocesses of `tests/distribute_helper.py`, started together: one splits the
CPU into two logical devices (which must happen before TensorFlow starts) and trains under
`MirroredStrategy` and then on one device; two more are the workers of a
`MultiWorkerMirroredStrategy` cluster on localhost (`TF_CONFIG`). All start from the same seed
and see the same global batches, so they must reach the same losses and weights up to
floating-point summation order: within 1e-5 (relative) here; measured differences are about
1e-7. Each process trains a MetaModel (Adam, 3 epochs with checkpoints) and then every
gradient-based algorithm of `distribute_helper.ALGORITHMS` for 3 outer steps of plain SGD,
whose updates are compared step by step. A last test kills both workers of a run with SIGKILL
mid-training, restarts them, and compares with the uninterrupted run.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from distribute_helper import ALGORITHM_STEPS, ALGORITHMS, finish, start_runs, start_workers

from l2l.training.distribute import is_chief, make_strategy, output_dir

RTOL, ATOL = 1e-5, 1e-6
RUNS = ("mirrored", "single", "worker0", "worker1")


def _load(path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("distributed")
    finish(start_runs(out))
    results = {name: _load(out / f"{name}.npz") for name in RUNS}
    results["algorithms"] = {a: {name: _load(out / f"{a}-{name}.npz") for name in RUNS}
                             for a in ALGORITHMS}
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


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("run", ["mirrored", "worker0", "worker1"])
def test_algorithm_updates_under_a_strategy_equal_one_device_updates(runs, algorithm, run):
    got, reference = (runs["algorithms"][algorithm][name] for name in (run, "single"))
    assert len(reference["loss"]) == ALGORITHM_STEPS
    np.testing.assert_allclose(got["loss"], reference["loss"], rtol=RTOL)
    for w, r in zip(weights(got), weights(reference), strict=True):
        np.testing.assert_allclose(w, r, rtol=RTOL, atol=ATOL)  # after every step
    # The updates are far larger than the tolerance, so an update of the wrong scale (say,
    # summed instead of averaged over the replicas) cannot pass.
    assert max(np.abs(r[-1] - r[0]).max() for r in weights(reference)) > 1e3 * ATOL


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


def config(kind, index, chief=False):
    cluster = {"worker": ["a:1", "b:1"], **({"chief": ["c:1"]} if chief else {})}
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


def test_the_chief_is_the_chief_task_or_else_worker_zero():
    assert is_chief({}) and is_chief(config("worker", 0))
    assert not is_chief(config("worker", 1))
    assert is_chief(config("chief", 0, chief=True)) and not is_chief(config("worker", 0, True))


def test_two_workers_killed_and_restarted_resume_the_uninterrupted_run(runs, tmp_path):
    # Stall both workers in the middle of epoch 2 (after the checkpoint of epoch 1), kill
    # them with a real SIGKILL, and start a fresh cluster on the same checkpoint folder.
    killed = start_workers(tmp_path, "--name", "killed", "--stall-at", "1:2",
                           "--metamodel-only")
    try:
        for proc in killed:
            for line in proc.stdout:
                if line.strip() == "stalled":
                    break
            else:
                raise AssertionError(f"worker ended without stalling: {proc.wait()}")
    finally:
        for proc in killed:
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
    assert [p.returncode for p in killed] == [-signal.SIGKILL] * 2
    state = json.loads((tmp_path / "ckpt-workers" / "checkpoint.json").read_text())
    assert (state["epoch"], state["step"]) == (1, 5)
    finish(start_workers(tmp_path, "--name", "resumed", "--metamodel-only"))
    for index in range(2):
        assert_same_training(_load(tmp_path / f"resumed{index}.npz"), runs["worker0"])


def test_only_the_chief_writes_to_the_output_folder(tmp_path):
    with output_dir(tmp_path / "out", config("worker", 0)) as folder:
        assert folder == str(tmp_path / "out")
    with output_dir(tmp_path / "out", config("worker", 1)) as folder:
        assert folder != str(tmp_path / "out")
        (Path(folder) / "model.keras").write_text("a worker's copy")
    assert not Path(folder).exists() and not (tmp_path / "out").exists()


def test_strategy_names_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="auto, one, mirrored"):
        make_strategy("fastest")
    monkeypatch.setenv("TF_CONFIG", config("worker", 0)["TF_CONFIG"])
    with pytest.raises(ValueError, match="unset TF_CONFIG"):
        make_strategy("one")  # every worker would train its own copy
