"""safe_steps: an inner loop that overshoots is walked back, episode by episode."""

import keras
import numpy as np

from l2l.algorithms import MAML
from l2l.tasks import SinusoidTask


def test_safe_steps_never_raise_the_support_loss_where_plain_steps_diverge():
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
                            keras.layers.Dense(1)])
    inputs = SinusoidTask(shots=5, queries=5).fixed_episodes(6, seed=0).inputs()
    plain = MAML(net, inner_learning_rate=2.0, test_steps=6)  # far too large a step
    safe = plain.with_options(safe_steps=True)
    assert safe.get_config()["safe_steps"] and not plain.get_config()["safe_steps"]
    start = np.asarray(plain.adapt(inputs, steps=1).objectives)[:, 0]
    theta = [v.numpy() for v in net.trainable_variables]

    def support_loss(model):
        params = model.adapt(inputs).params
        return np.asarray(model.support_objective(theta, params, inputs)), params

    plain_loss, _ = support_loss(plain)
    safe_loss, safe_params = support_loss(safe)
    assert (plain_loss > start).any()  # plain steps overshoot on some episodes
    assert (safe_loss <= start + 1e-6).all() and np.isfinite(safe_loss).all()
    assert (safe_loss < start).any()  # and the halved steps still make progress
    objectives = np.asarray(safe.adapt(inputs).objectives)
    assert (np.diff(objectives, axis=1) <= 1e-6).all()  # accepted objectives never rise
    # with a small step nothing is rejected: the same parameters as without the rule
    small = MAML(net, inner_learning_rate=0.001, test_steps=3)
    for a, b in zip(small.adapt(inputs).params,
                    small.with_options(safe_steps=True).adapt(inputs).params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert len(safe_params) == 4
