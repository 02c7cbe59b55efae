import numpy as np
import pytest

from l2l.tasks import SinusoidTask


def test_targets_are_the_sinusoid_of_each_task():
    task = SinusoidTask(shots=5, queries=7)
    ep = task.episodes(64, seed=0)
    rng = np.random.default_rng([0, 0])
    amplitude, phase = task.task_parameters(64, rng).T
    x = np.concatenate([ep.support_x, ep.query_x], axis=1)[..., 0]
    y = np.concatenate([ep.support_y, ep.query_y], axis=1)[..., 0]
    np.testing.assert_allclose(y, amplitude[:, None] * np.sin(x - phase[:, None]), atol=1e-5)
    assert (amplitude >= 0.1).all() and (amplitude <= 5).all()
    assert (np.abs(x) <= 5).all() and ep.query_y.dtype == np.float32


def test_predicting_zero_scores_about_the_known_baseline():
    ep = SinusoidTask(shots=5, queries=50).fixed_episodes(2000, seed=0)
    mse = float((ep.query_y**2).mean())
    assert 3.8 < mse < 4.6  # E[A^2]/2 with A ~ U(0.1, 5) is 4.2


def test_ragged_shots_are_masked():
    ep = SinusoidTask(shots=(2, 10)).episodes(300, seed=1)
    counts = ep.support_mask.sum(axis=1)
    assert counts.min() == 2 and counts.max() == 10
    assert (ep.support_x[ep.support_mask == 0] == 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(shots=0), "shots must be"),
    (dict(queries=0), "queries must be"),
    (dict(amplitude=(5.0, 0.1)), "amplitude must be"),
    (dict(noise=-1.0), "noise must be"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SinusoidTask(**kwargs)
