"""The Neural Statistician: its ELBO against a hand computation, masked pooling, sampling,
saving, and the few-shot classifier on classes never seen in training."""

import keras
import numpy as np
import pytest
from eager_helper import Eager, predict_eagerly
from test_learners_classification import synthetic_classes

from l2l.evaluation import evaluate
from l2l.ops import gaussian_kl_terms
from l2l.presets import classification_model
from l2l.statistician import NeuralStatistician, bernoulli_log_likelihood
from l2l.tasks import FewShotClassification, class_splits


def _tiny(**kwargs):
    options = dict(encoder=keras.layers.Flatten(), context_dim=2, latent_dim=3, units=(4,),
                   decoder_units=(4,), input_scale=1.0)
    return NeuralStatistician(**{**options, **kwargs})


def _set_outputs(network, bias):
    """Zero every weight of an MLP but its output bias: it then outputs `bias` for any input."""
    for layer in network.layers:
        layer.kernel.assign(np.zeros(layer.kernel.shape))
        layer.bias.assign(np.zeros(layer.bias.shape))
    network.layers[-1].bias.assign(np.asarray(bias, "float32"))


def test_gaussian_kl_equals_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    m, s, pm, ps = 0.3, 0.6, -0.5, 1.4
    draws = rng.normal(m, s, 400_000)
    log_q = -0.5 * ((draws - m) / s) ** 2 - np.log(s)
    log_p = -0.5 * ((draws - pm) / ps) ** 2 - np.log(ps)
    closed = float(gaussian_kl_terms(np.float32(m), np.log(s), pm, np.log(ps)))
    assert closed == pytest.approx(np.mean(log_q - log_p), abs=5e-3)
    assert float(gaussian_kl_terms(np.float32(m), np.log(s), m, np.log(s))) == pytest.approx(0)


def test_bernoulli_log_likelihood_is_log_sigmoid():
    logits = np.array([-3.0, 0.5, 2.0], "float32")
    ones = np.log(1 / (1 + np.exp(-logits)))
    zeros = np.log(1 - 1 / (1 + np.exp(-logits)))
    np.testing.assert_allclose(bernoulli_log_likelihood(np.ones(3), logits), ones, rtol=1e-5)
    np.testing.assert_allclose(bernoulli_log_likelihood(np.zeros(3), logits), zeros, rtol=1e-5)


def test_elbo_of_a_set_equals_the_hand_computation():
    """Networks that output constants make every term known: two real examples (a third is
    padding, full of garbage), their binarised pixels, the z and c KLs in closed form."""
    stat = _tiny()
    x = np.array([[[0.9, 0.2], [0.6, 0.0]], [[0.1, 0.7], [1.0, 0.4]], [[9.0, -9.0], [5.0, 3.0]]],
                 "float32")[None, ..., None]                           # [1 set, 3, 2, 2, 1]
    mask = np.array([[1.0, 1.0, 0.0]])
    stat(x, mask)
    c_mean, c_log_std = np.array([0.5, -1.0]), np.log([0.5, 2.0])
    z_mean, z_log_std = np.array([0.2, 0.0, -0.3]), np.log([0.3, 1.0, 0.8])
    p_mean, p_log_std = np.array([0.0, 1.0, 0.0]), np.log([1.0, 0.5, 2.0])
    logits = np.array([1.5, -0.5, 0.0, 2.0])
    _set_outputs(stat.post_pool, np.concatenate([c_mean, c_log_std]))
    _set_outputs(stat.inference, np.concatenate([z_mean, z_log_std]))
    _set_outputs(stat.latent_prior, np.concatenate([p_mean, p_log_std]))
    _set_outputs(stat.decoder, logits)

    def kl(m, log_s, pm, log_ps):  # KL(N(m, s^2) || N(pm, ps^2)), summed over coordinates
        s, ps = np.exp(log_s), np.exp(log_ps)
        return np.sum(np.log(ps / s) + (s**2 + (m - pm) ** 2) / (2 * ps**2) - 0.5)

    p = 1 / (1 + np.exp(-logits))
    expected = -kl(c_mean, c_log_std, 0.0, 0.0)
    for image in x[0, :2]:
        t = (image.ravel() > 0.5).astype(float)
        expected += np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))
        expected -= kl(z_mean, z_log_std, p_mean, p_log_std)
    elbo, sizes = stat.set_elbo(x, set_mask=mask, seed=3)
    assert np.asarray(sizes).ravel().tolist() == [2.0]
    assert float(np.asarray(elbo).ravel()[0]) == pytest.approx(expected, rel=1e-5)


def test_masked_pooling_ignores_padding():
    keras.utils.set_random_seed(0)
    stat = _tiny(encoder=keras.layers.Dense(5))
    rng = np.random.default_rng(1)
    real = rng.random((1, 2, 6), "float32")
    padded = [np.concatenate([real, rng.normal(0, 50, (1, 3, 6))], 1) for _ in range(2)]
    mask = np.array([[1.0, 1.0, 0.0, 0.0, 0.0]])
    alone = stat(real)
    for x in padded:
        for got, want in zip(stat(x.astype("float32"), mask), alone, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_samples_are_deterministic_per_seed():
    keras.utils.set_random_seed(0)
    stat = _tiny(encoder=keras.Sequential([keras.layers.Rescaling(1 / 255),
                                           keras.layers.Flatten()]), input_scale=1 / 255)
    images = np.random.default_rng(0).integers(0, 256, (1, 3, 4, 4, 1)).astype("uint8")
    first, again = (np.asarray(stat.sample(images, samples=5, seed=7)) for _ in range(2))
    other = np.asarray(stat.sample(images, samples=5, seed=8))
    assert first.shape == (1, 5, 4, 4, 1) and 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3
    assert np.abs(first[0, 0] - first[0, 1]).max() > 1e-3  # draws differ within a call


@pytest.fixture(scope="module")
def trained():
    """A tiny `"statistician"` classifier trained on 28 synthetic classes, 12 held out."""
    x, labels = synthetic_classes()
    splits = class_splits(labels, (0.7, 0.3))

    def task(split):
        return FewShotClassification(x, labels, ways=3, shots=(1, 3), queries=2,
                                     classes=splits[split])

    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                keras.layers.Dense(16, activation="relu")])
    model = classification_model("statistician", 3, encoder=encoder, width=16,
                                 learning_rate=3e-3, jit_compile=False)
    test = task("test").fixed_episodes(200, seed=0)
    held_out = task("test").fixed_episodes(40, seed=1)

    def elbo():
        onehot = keras.ops.one_hot(held_out.support_y, 3)
        total, sizes = model.predictor.statistician.set_elbo(
            held_out.support_x, onehot, held_out.support_mask, seed=0)
        return float(np.sum(total) / np.sum(sizes))

    predict_eagerly(model, test[:2])
    before = elbo()
    model.fit(task("train").dataset(16, seed=0), steps_per_epoch=100, epochs=1, verbose=0)
    return model, test, before, elbo()


def test_classifier_beats_chance_and_the_elbo_improves_on_held_out_classes(trained):
    model, test, before, after = trained
    score = evaluate(Eager(model), test)
    assert score.mean - score.ci95 > 1 / 3 + 0.3, score
    assert after > before + 20, (before, after)  # nats per 14x14 image


def test_saved_model_classifies_and_samples_the_same(trained, tmp_path):
    model, test, _, _ = trained
    model.save(tmp_path / "statistician.keras")
    loaded = keras.models.load_model(tmp_path / "statistician.keras")
    np.testing.assert_allclose(predict_eagerly(loaded, test[:4]),
                               predict_eagerly(model, test[:4]), atol=1e-4)
    images = test.support_x[:1, :3]
    np.testing.assert_allclose(loaded.predictor.statistician.sample(images, 3, seed=0),
                               model.predictor.statistician.sample(images, 3, seed=0),
                               atol=1e-5)
