"""ScaleAwareMAML's prior options: the stable initial scale, the warmup and the learned weight."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from l2l.algorithms import ScaleAwareMAML
from l2l.tasks import SinusoidTask

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402


def sine_net():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(1)])


def prior_step(model, u: float) -> float:
    """One inner step of the prior alone (a one-shot episode, `w = 1`) on the first bias,
    starting `u` scales from the mean; returns where it lands, in scales."""
    theta = [tf.convert_to_tensor(v) for v in model.model.trainable_variables]
    scales = model.scales()
    phi = [tf.identity(t)[None] for t in theta]
    phi[1] = phi[1] + u * scales[1][None]
    with tf.GradientTape() as tape:
        tape.watch(phi)
        penalty = model.inner_penalty(theta, phi, tf.constant([1.0]))
    grads = tape.gradient(penalty, phi)
    moved = phi[1] - model.inner_rates(theta, phi)[1] * grads[1]
    return float((moved[0, 0] - theta[1][0]) / scales[1][0])


def test_stable_init_makes_the_quartic_step_newton_at_its_minimum():
    kwargs = dict(prior="quartic", scaled_rates=True, inner_learning_rate=0.01)
    stable = ScaleAwareMAML(sine_net(), init_scale="stable", **kwargs)
    np.testing.assert_allclose(stable.scales()[1], np.sqrt(8 * 0.01), rtol=1e-6)
    assert stable.get_config()["init_scale"] == "stable"
    # A Newton step near the minimum |phi - m| = s: 10% off -> 1.5% off (quadratic error).
    assert abs(prior_step(stable, 1.1) - 1.0) < 0.02
    assert abs(prior_step(stable, 1.5) - 1.0) < 0.5
    # From the default 0.1 the same one-shot step overshoots: u -> u - 4 (u^3 - u).
    default = ScaleAwareMAML(sine_net(), **kwargs)
    np.testing.assert_allclose(prior_step(default, 1.5), 1.5 - 4 * (1.5 ** 3 - 1.5), rtol=1e-4)
    quadratic = ScaleAwareMAML(sine_net(), prior="quadratic", init_scale="stable")
    np.testing.assert_allclose(quadratic.scales()[0], 0.1, rtol=1e-6)
    with pytest.raises(ValueError, match="init_scale"):
        ScaleAwareMAML(sine_net(), prior=None, scaled_rates=True, init_scale="stable")


def fit(model, steps, learning_rate=1e-3, callbacks=()):
    model.compile(keras.optimizers.Adam(learning_rate))
    data = SinusoidTask(shots=(1, 5), queries=5).dataset(4, seed=0)
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=list(callbacks))


def test_warmup_weight_is_zero_at_the_first_update_and_full_at_the_end():
    model = ScaleAwareMAML(sine_net(), prior="quartic", inner_steps=2, prior_warmup=4)
    ramps = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ramps.append(float(model.prior_factor())))
    fit(model, 6, callbacks=[record])
    np.testing.assert_allclose(ramps, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0], atol=1e-6)
    copy = model.with_options(test_steps=3)
    assert float(copy.prior_factor()) == 1.0  # a trained model keeps its last weight
    with pytest.raises(ValueError, match="prior_warmup"):
        ScaleAwareMAML(sine_net(), prior="quartic", prior_warmup=0)


def test_learned_weight_scales_the_penalty_and_is_meta_trained():
    model = ScaleAwareMAML(sine_net(), prior="quadratic", inner_steps=2, learn_prior_weight=True)
    theta = [tf.convert_to_tensor(v) for v in model.model.trainable_variables]
    phi = [t[None] + 0.05 for t in theta]
    before = model.inner_penalty(theta, phi, tf.constant([3.0]))
    model.log_prior_gain.assign(np.log(3.0))
    np.testing.assert_allclose(model.inner_penalty(theta, phi, tf.constant([3.0])),
                               3.0 * np.asarray(before), rtol=1e-5)
    model.log_prior_gain.assign(0.0)
    episodes = SinusoidTask(shots=3, queries=5).fixed_episodes(2, seed=1)
    with tf.GradientTape() as tape:  # the query loss reaches the gain through the 2nd step
        loss = tf.reduce_mean(tf.square(model(episodes.inputs(), training=True)
                                        - episodes.query_y))
    gain = tape.gradient(loss, model.log_prior_gain)
    assert np.isfinite(gain) and abs(float(gain)) > 1e-6


def test_quick_benchmark_scores_the_loops_and_diagnoses(tmp_path):
    _, result = runner.run_benchmark(
        "scale_priors", quick=True, output=tmp_path, episode_dir=tmp_path / "episodes",
        options=dict(methods=("quartic_stable",), shots=(5,), updates=1, test_episodes=2,
                     diagnosis_episodes=1, test_steps=2))
    assert schema.validate(result)
    assert [r["settings"]["test_steps"] for r in result["rows"]] == [1, 2]
    diagnosis = result["settings"]["diagnosis"]["quartic_stable"]
    assert len(diagnosis["scales"]) == len(diagnosis["layers"]) == 6
    np.testing.assert_allclose(diagnosis["scales"][0][2], np.sqrt(0.08), rtol=0.05)
    assert len(diagnosis["steps_2"]["scaled_movement"]) == 6
