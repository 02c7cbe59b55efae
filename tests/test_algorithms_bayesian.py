"""ABML (probabilistic MAML): its ELBO terms, repeatable but varied posterior draws, the
mixture predictive's likelihood and coverage, training and saving."""

import keras
import numpy as np
import pytest

from l2l.algorithms import ABML
from l2l.algorithms.bayesian import (
    gaussian_kl,
    gaussian_log_likelihood,
    mixture_coverage,
    mixture_log_likelihood,
)
from l2l.errors import InvalidValueError
from l2l.tasks import SinusoidTask


def normal_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def small_net():
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
                             keras.layers.Dense(1)])


def test_kl_and_log_likelihood_match_their_closed_forms():
    rng = np.random.default_rng(0)
    m, r = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)) * 0.3
    mu, rho = rng.normal(size=3), rng.normal(size=3) * 0.3
    s, p = np.exp(r), np.exp(rho)
    expected = (np.log(p / s) + (s**2 + (m - mu) ** 2) / (2 * p**2) - 0.5).sum(axis=1)
    np.testing.assert_allclose(gaussian_kl(m, r, mu, rho), expected, rtol=1e-10)
    np.testing.assert_allclose(gaussian_kl(m, r, m[0], r[0])[0], 0.0, atol=1e-12)
    y, mean = rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(gaussian_log_likelihood(y, mean, np.log(0.7)),
                               np.log(normal_pdf(y, mean, 0.7)), rtol=1e-10)


def test_mixture_predictive_likelihood_and_coverage():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 1, 1, 1)) * np.ones((3, 2, 40, 1))  # 3 functions
    y = centres[0] + 0.5 * rng.standard_normal((2, 40, 1))
    density = np.mean([normal_pdf(y, c, 0.5) for c in centres], axis=0)
    np.testing.assert_allclose(mixture_log_likelihood(centres, 0.5, y),
                               np.log(density).mean(axis=(1, 2)), rtol=1e-10)
    # targets drawn from the predictive itself are covered about 95% of the time
    truth = rng.normal(size=(1, 4, 2000, 1))
    y = truth[0] + 0.3 * rng.standard_normal((4, 2000, 1))
    assert np.all(np.abs(mixture_coverage(truth, 0.3, y) - 0.95) < 0.03)


def test_posterior_draws_differ_per_draw_and_repeat_per_seed(tmp_path):
    keras.utils.set_random_seed(0)
    model = ABML(small_net(), inner_steps=2, init_std=0.1, seed=3)
    model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(SinusoidTask(shots=4, queries=4).dataset(4, seed=0),
                        steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    inputs = SinusoidTask(shots=2, queries=6).fixed_episodes(3, seed=1).inputs()
    draws = model.sample_functions(inputs, samples=5, seed=0)
    assert draws.shape == (5, 3, 6, 1)
    np.testing.assert_array_equal(draws, model.sample_functions(inputs, samples=5, seed=0))
    assert np.abs(model.sample_functions(inputs, samples=5, seed=1) - draws).max() > 1e-4
    spread = draws.std(axis=0)
    assert (spread > 1e-4).all()  # every query point varies across draws
    # the point prediction is the posterior-mean network: inside the draws' range
    mean = model.predict(inputs, verbose=0)
    assert np.abs(mean - draws.mean(axis=0)).max() < 4 * spread.max()
    model.save(tmp_path / "abml.keras")
    loaded = keras.models.load_model(tmp_path / "abml.keras")
    assert (loaded.init_std, loaded.seed, loaded.noise_std()) == (0.1, 3, model.noise_std())
    np.testing.assert_array_equal(loaded.sample_functions(inputs, samples=5, seed=0), draws)


def test_bad_arguments_are_named():
    for kwargs in ({"init_std": 0.0}, {"init_noise": -1.0}, {"kl_weight": -1.0},
                   {"loss": "mae"}):
        with pytest.raises(InvalidValueError):
            ABML(small_net(), **kwargs)


def test_learned_inner_rates_start_at_the_fixed_rate_and_are_meta_trained(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = SinusoidTask(shots=3, queries=5).fixed_episodes(2, seed=1).inputs()
    fixed = ABML(small_net(), inner_steps=2, inner_learning_rate=0.05, init_std=0.1, seed=0)
    learned = ABML(small_net(), inner_steps=2, inner_learning_rate=0.05, init_std=0.1, seed=0,
                   learn_inner_rates=True)
    fixed(inputs), learned(inputs)
    learned.model.set_weights(fixed.model.get_weights())
    assert len(learned.trainable_weights) == len(fixed.trainable_weights) + 2 * len(
        fixed.model.trainable_weights)
    # at initialisation the learned rates are the fixed one: the same posteriors
    np.testing.assert_allclose(learned.sample_functions(inputs, samples=3, seed=2),
                               fixed.sample_functions(inputs, samples=3, seed=2), rtol=1e-5)
    learned.compile(keras.optimizers.Adam(1e-2))
    learned.fit(SinusoidTask(shots=4, queries=4).dataset(4, seed=0), steps_per_epoch=3,
                verbose=0)
    for rates in (learned.mean_rates, learned.log_std_rates):
        moved = [np.abs(r.numpy() - 0.05).max() for r in rates]
        assert max(moved) > 1e-3  # meta-trained
    learned.save(tmp_path / "rates.keras")
    loaded = keras.models.load_model(tmp_path / "rates.keras")
    assert loaded.learn_inner_rates
    np.testing.assert_array_equal(loaded.sample_functions(inputs, samples=3, seed=0),
                                  learned.sample_functions(inputs, samples=3, seed=0))


def test_natural_inner_steps_stay_finite_where_plain_steps_diverge_on_a_narrow_prior():
    # the KL's curvature in the means is 1 / prior_std^2 = 10^4: plain steps of 0.5 explode,
    # natural steps (scaled by the posterior variance) pull by half the distance to the prior
    inputs = SinusoidTask(shots=3, queries=5).fixed_episodes(2, seed=1).inputs()
    draws = {}
    for update in ("sgd", "natural"):
        keras.utils.set_random_seed(0)
        model = ABML(small_net(), inner_steps=5, inner_learning_rate=0.5, init_std=0.01,
                     inner_update=update, seed=0)
        draws[update] = model.sample_functions(inputs, samples=3, seed=0)
    assert not np.isfinite(draws["sgd"]).all()
    assert np.isfinite(draws["natural"]).all() and np.abs(draws["natural"]).max() < 10
    with pytest.raises(InvalidValueError):
        ABML(small_net(), inner_update="adam")


def test_gauss_newton_step_is_exact_bayesian_linear_regression_on_a_linear_model():
    # f(x) = w x + b is its own linearisation: one step gives the exact posterior's mean and
    # the ELBO-optimal diagonal variances 1 / diag(precision), padded support points ignored
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model = ABML(net, inner_update="gauss_newton", init_std=0.7, init_noise=0.3, seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 1)).astype("float32")
    y = (1.5 * x - 0.5 + 0.3 * rng.normal(size=x.shape)).astype("float32")
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "float32")
    inputs = {"support_x": x, "support_y": y, "query_x": x, "support_mask": mask}
    model(inputs)
    means, log_stds = model.adapt_posterior(inputs)
    kernel, bias = (v.numpy().astype("float64") for v in net.trainable_variables)
    theta, prior_var, noise_var = np.array([kernel[0, 0], bias[0]]), 0.7**2, 0.3**2
    for b in range(2):
        keep = mask[b] > 0
        design = np.stack([x[b, keep, 0], np.ones(keep.sum())], axis=1)
        precision = np.eye(2) / prior_var + design.T @ design / noise_var
        cov = np.linalg.inv(precision)
        mean = cov @ (theta / prior_var + design.T @ y[b, keep, 0] / noise_var)
        got_mean = [float(means[0][b, 0, 0]), float(means[1][b, 0])]
        got_var = [float(np.exp(2 * log_stds[0][b, 0, 0])), float(np.exp(2 * log_stds[1][b, 0]))]
        np.testing.assert_allclose(got_mean, mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got_var, 1 / np.diag(precision), rtol=1e-4, atol=1e-6)
    draws = model.sample_functions(inputs, samples=3, seed=0)
    np.testing.assert_array_equal(draws, model.sample_functions(inputs, samples=3, seed=0))
    with pytest.raises(InvalidValueError):
        ABML(small_net(), inner_update="gauss_newton", learn_inner_rates=True)
