import numpy as np
import pytest

from l2l.tasks import QuadraticTask


def test_shapes_dtypes_and_coefficient_count():
    for dims, terms in [(1, 3), (2, 6), (3, 10)]:
        task = QuadraticTask(dims=dims, shots=7, queries=4)
        ep = task.episodes(5, seed=0)
        assert ep.support_x.shape == (5, 7, dims) and ep.support_y.shape == (5, 7, 1)
        assert ep.query_x.shape == (5, 4, dims) and ep.query_y.shape == (5, 4, 1)
        assert {a.dtype for a in (ep.support_x, ep.support_y, ep.query_x, ep.query_y)} == {
            np.dtype("float32")}
        assert task.num_coefficients == terms


def test_targets_are_the_quadratic_of_the_recorded_coefficients():
    task = QuadraticTask(dims=2, shots=6, queries=6)
    ep, info = task.episodes(50, seed=1, with_info=True)
    a = info["coefficients"]
    assert a.shape == (50, 6) and a.min() >= -1 and a.max() <= 1
    for x, y in ((ep.support_x, ep.support_y), (ep.query_x, ep.query_y)):
        x1, x2 = x[..., 0], x[..., 1]
        expected = (a[:, :1] + a[:, 1:2] * x1 + a[:, 2:3] * x2 + a[:, 3:4] * x1 * x1
                    + a[:, 4:5] * x1 * x2 + a[:, 5:6] * x2 * x2)
        np.testing.assert_allclose(y[..., 0], expected, atol=1e-5)
        assert np.abs(x).max() <= 1
    # `functions` on the episode's own generator gives the same coefficients.
    np.testing.assert_array_equal(
        task.task_parameters(50, np.random.default_rng([1, 0])), a)


def test_enough_shots_determine_the_function_exactly():
    task = QuadraticTask(dims=3, shots=10, queries=20)  # 10 coefficients, 10 points
    ep = task.episodes(20, seed=2)
    for b in range(20):
        solution = np.linalg.lstsq(task.monomials(ep.support_x[b].astype("float64")),
                                   ep.support_y[b, :, 0], rcond=None)[0]
        predicted = task.monomials(ep.query_x[b].astype("float64")) @ solution
        np.testing.assert_allclose(predicted, ep.query_y[b, :, 0], atol=1e-3)


def test_mean_predictor_mse_matches_the_sampled_tasks():
    for dims in (1, 2, 4):
        task = QuadraticTask(dims=dims, queries=50)
        ep = task.episodes(4000, seed=3)
        empirical = float((ep.query_y ** 2).mean())  # the mean function is zero here
        assert abs(empirical - task.mean_predictor_mse()) < 0.05 * task.mean_predictor_mse()
    assert round(QuadraticTask(dims=2).mean_predictor_mse(), 4) == 0.7259
    shifted = QuadraticTask(coefficients=(0.0, 2.0), x_range=(0.5, 0.5))
    assert shifted.mean_predictor_mse() == pytest.approx((4 / 12) * (1 + 2 * 0.25 + 3 * 0.0625))


def test_determinism_and_ragged_support_order():
    task = QuadraticTask(dims=2, shots=(2, 8), queries=3, noise=0.1)
    a, b = task.episodes(16, seed=4, index=1), task.episodes(16, seed=4, index=1)
    np.testing.assert_array_equal(a.support_y, b.support_y)
    assert not np.array_equal(a.query_x, task.episodes(16, seed=4, index=2).query_x)
    lengths = a.support_mask.sum(axis=1)
    assert lengths.min() >= 2 and lengths.max() <= 8 and len(set(lengths.tolist())) > 1
    for mask, x, y in zip(a.support_mask, a.support_x, a.support_y, strict=True):
        k = int(mask.sum())
        np.testing.assert_array_equal(mask, np.arange(8) < k)  # padding only at the end
        assert (x[k:] == 0).all() and (y[k:] == 0).all()


def test_noise_only_on_support_targets():
    clean, noisy = QuadraticTask(noise=0.0), QuadraticTask(noise=0.5)
    c, n = clean.episodes(200, seed=5), noisy.episodes(200, seed=5)
    np.testing.assert_array_equal(c.query_y, n.query_y)
    assert 0.4 < float(np.std(n.support_y - c.support_y)) < 0.6


@pytest.mark.parametrize("kwargs, message", [
    (dict(dims=0), "dims must be an integer >= 1"),
    (dict(dims=1.5), "dims must be an integer >= 1"),
    (dict(shots=0), "shots must be >= 1"),
    (dict(queries=0), "queries must be at least 1"),
    (dict(coefficients=(1.0, -1.0)), "coefficients must be a \\(low, high\\) range"),
    (dict(x_range=(2.0, 1.0)), "x_range must be a \\(low, high\\) range"),
    (dict(noise=-0.1), "noise must be >= 0"),
    (dict(noise=float("nan")), "noise must be >= 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuadraticTask(**kwargs)


def test_monomials_check_the_input_width():
    with pytest.raises(ValueError, match="x must have 2 inputs on its last axis"):
        QuadraticTask(dims=2).monomials(np.zeros((3, 4)))
