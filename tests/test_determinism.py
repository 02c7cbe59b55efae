"""The same seed gives the same episodes, bit for bit, and the same training run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from train_helper import finish, reference, result, start

from l2l.tasks import SinusoidTask, TwoDigitTask

FIELDS = [f.name for f in dataclasses.fields(SinusoidTask().episodes(1, 0))]


def assert_same(a, b):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), name


@pytest.fixture(scope="module")
def tasks(digits):
    return [SinusoidTask(shots=(2, 5), queries=4, noise=0.1),
            TwoDigitTask(*digits, split="train", protocol="strict", shots=(1, 3), queries=4)]


def test_same_seed_and_index_give_bit_identical_episodes(tasks):
    for task in tasks:
        assert_same(task.episodes(6, seed=3, index=7), task.episodes(6, seed=3, index=7))
        assert_same(task.fixed_episodes(20, seed=1), task.fixed_episodes(20, seed=1))
        other = task.episodes(6, seed=4, index=7)
        assert other.query_x.tobytes() != task.episodes(6, seed=3, index=7).query_x.tobytes()


def test_dataset_streams_the_indexed_batches_whatever_the_workers_or_start(tasks):
    for task in tasks:
        for parallel in (1, 3):
            stream = list(task.dataset(4, seed=5, num_batches=5, parallel=parallel))
            for i, (inputs, query_y) in enumerate(stream):
                ep = task.episodes(4, seed=5, index=i)
                for key, value in ep.inputs().items():
                    assert inputs[key].numpy().tobytes() == value.tobytes()
                assert query_y.numpy().tobytes() == ep.query_y.tobytes()
        # A stream started at batch 3 (a resumed run) continues the full stream exactly.
        resumed = next(iter(task.dataset(4, seed=5, start_batch=3)))
        assert resumed[1].numpy().tobytes() == task.episodes(4, seed=5, index=3).query_y.tobytes()


def test_start_batch_must_be_a_count():
    with pytest.raises(ValueError, match="start_batch must be >= 0"):
        SinusoidTask().dataset(4, seed=0, start_batch=-1)


def test_training_twice_with_one_seed_gives_identical_metrics_and_weights(
        tmp_path, tmp_path_factory):
    """Two processes, `set_random_seed(0)` + op determinism: bit-identical runs on a CPU."""
    first = reference(tmp_path_factory.getbasetemp())  # both run at once
    finish(start(tmp_path / "again.npz"))
    (history_a, weights_a, _), (history_b, weights_b, _) = first(), result(
        tmp_path / "again.npz")
    assert history_a == history_b and len(history_a["loss"]) == 3
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(a, b)
