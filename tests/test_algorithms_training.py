"""Each gradient-based meta-learner trains with fit, improves on held-out sinusoid tasks, saves
and loads, and names its bad arguments."""

import keras
import numpy as np
import pytest

from l2l.algorithms import MAML, GradientMetaLearner, MetaSGD, Reptile, ScaleAwareMAML
from l2l.evaluation import evaluate, mean_ci95, per_episode_mse
from l2l.tasks import SinusoidTask


def sine_net(units=20):
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(1)])


ALGORITHMS = {
    "maml": lambda: MAML(sine_net(), inner_learning_rate=0.01),
    "fomaml": lambda: MAML(sine_net(), inner_learning_rate=0.01, first_order=True),
    "meta_sgd": lambda: MetaSGD(sine_net(), inner_learning_rate=0.01),
    "reptile": lambda: Reptile(sine_net(), inner_steps=5, inner_learning_rate=0.01),
    "quadratic_scaled_rates": lambda: ScaleAwareMAML(
        sine_net(), prior="quadratic", scaled_rates=True, inner_steps=2, stop_tolerance=1e-4),
    # first order keeps the trace (and the test) short; the benchmark trains it second order
    "quartic": lambda: ScaleAwareMAML(sine_net(), prior="quartic", inner_steps=2,
                                      first_order=True, decay_after=3.0, scaled_rates=True),
}


@pytest.fixture(scope="module")
def held_out():
    return SinusoidTask(shots=10, queries=10).fixed_episodes(300, seed=7)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_adaptation_beats_no_adaptation_and_zero_on_held_out_tasks(name, held_out, tmp_path):
    keras.utils.set_random_seed(0)
    model = ALGORITHMS[name]()
    model.compile(keras.optimizers.Adam(3e-3))
    model.fit(SinusoidTask(shots=10, queries=10).dataset(16, seed=0), steps_per_epoch=300,
              verbose=0)
    adapted = evaluate(model, held_out, "mse")
    flat_queries = held_out.query_x.reshape(-1, 1)
    unadapted = model.model.predict(flat_queries, verbose=0).reshape(held_out.query_y.shape)
    no_adaptation = mean_ci95(per_episode_mse(unadapted, held_out.query_y))
    zero, _ = mean_ci95(per_episode_mse(np.zeros_like(held_out.query_y), held_out.query_y))
    assert adapted.mean + adapted.ci95 < no_adaptation[0] - no_adaptation[1], (
        adapted, no_adaptation)
    assert adapted.mean + adapted.ci95 < 0.7 * zero, (adapted, zero)

    # and the trained model saves and loads, with its extra variables, adapting identically
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model)
    config = {k: v for k, v in model.get_config().items() if k not in ("model", "name")}
    assert {k: v for k, v in loaded.get_config().items() if k in config} == config
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    inputs = held_out[:20].inputs()
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0),
                               model.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6)


def test_an_unbuilt_model_is_built_from_the_episodes(held_out):
    net = keras.Sequential([keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    model = MetaSGD(net)
    assert not model.built
    assert model.predict(held_out[:3].inputs(), verbose=0).shape == (3, 10, 1)
    assert len(model.learning_rates) == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"inner_steps": 0}, "`inner_steps`: expected a positive integer"),
    ({"inner_learning_rate": -0.1}, "`inner_learning_rate`: expected a positive finite"),
    ({"inner_learning_rate": float("nan")}, "`inner_learning_rate`: expected a positive finite"),
    ({"test_steps": 1.5}, "`test_steps`: expected a positive integer"),
    ({"stop_tolerance": -1.0}, "`stop_tolerance`: expected None or a finite number"),
    ({"loss": "no_such_loss"}, "no_such_loss"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MAML(sine_net(), **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"prior": "cubic"}, "Unknown prior 'cubic'"),
    ({"prior": None}, "with neither it is plain MAML"),
    ({"init_scale": 0.0}, "`init_scale`: expected a positive finite"),
    ({"decay_after": 2.0}, "set scaled_rates=True"),
    ({"scaled_rates": True, "decay": 2.0}, "decay must be in"),
])
def test_bad_scale_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScaleAwareMAML(sine_net(), **kwargs)


def test_wrong_inputs_are_named(held_out):
    model = MAML(sine_net())
    with pytest.raises(TypeError, match="wraps a Keras model"):
        GradientMetaLearner(lambda x: x)
    inputs = held_out[:2].inputs()
    del inputs["support_mask"]
    with pytest.raises(ValueError, match="expected a dict with keys"):
        model.adapt(inputs)
    inputs = held_out[:2].inputs()
    inputs["query_x"] = np.zeros((2, 10, 3), "float32")
    with pytest.raises(ValueError, match="must have the same shape"):
        model.adapt(inputs)
    with pytest.raises(ValueError, match="no trainable variables"):
        MAML(keras.Sequential([keras.Input((1,)), keras.layers.Activation("relu")]))


def test_with_options_changes_the_inner_loop_and_keeps_the_weights(held_out):
    model = ScaleAwareMAML(sine_net(), prior="quadratic", scaled_rates=True)
    for w in model.weights:
        w.assign(w.numpy() + 0.01)
    longer = model.with_options(test_steps=3, stop_tolerance=1e-3)
    assert (longer.test_steps, longer.stop_tolerance, longer.prior) == (3, 1e-3, "quadratic")
    for a, b in zip(longer.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.asarray(longer.adapt(held_out[:4].inputs()).steps).max() <= 3
    with pytest.raises(ValueError, match="has no options"):
        model.with_options(inner_stepz=3)
