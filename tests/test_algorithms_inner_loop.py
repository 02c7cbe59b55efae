"""The inner loop of the gradient-based meta-learners: exact gradients, vectorisation, masks,
per-parameter rates and scales, automatic stopping."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from l2l.algorithms import (
    MAML,
    MetaSGD,
    ScaleAwareMAML,
    quadratic_penalty,
    quartic_penalty,
    scaled_rates,
)
from l2l.tasks import SinusoidTask


def tiny_net(dtype="float32", seed=0):
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([
        keras.Input((1,), dtype=dtype),
        keras.layers.Dense(5, activation="tanh", dtype=dtype, kernel_initializer=init,
                           bias_initializer=keras.initializers.RandomNormal(0, 0.5, seed=seed)),
        keras.layers.Dense(1, dtype=dtype, kernel_initializer=init),
    ])


def episodes(batch=3, dtype="float32", seed=0):
    ep = SinusoidTask(shots=(2, 4), queries=5).episodes(batch, seed=seed)
    return {k: v.astype(dtype) for k, v in ep.inputs().items()}, ep.query_y.astype(dtype)


def meta_loss(model, inputs, y):
    return tf.reduce_mean(tf.square(model(inputs, training=True) - y))


def flat(tensors):
    return np.concatenate([np.ravel(np.asarray(t)) for t in tensors])


def per_episode(params):
    """Adapted parameters as one `[B, P]` array, episode by episode."""
    return np.concatenate([np.reshape(np.asarray(p), (len(p), -1)) for p in params], axis=1)


def test_second_order_meta_gradient_matches_finite_differences():
    inputs, y = episodes(dtype="float64")
    model = MAML(tiny_net("float64"), inner_steps=2, inner_learning_rate=0.1)
    variables = model.model.trainable_variables
    loss_fn = tf.function(lambda: meta_loss(model, inputs, y))
    with tf.GradientTape() as tape:
        loss = meta_loss(model, inputs, y)
    analytic = flat(tape.gradient(loss, variables))
    numeric, eps = [], 1e-6
    for v in variables:
        base = v.numpy()
        for i in range(base.size):
            values = []
            for sign in (1, -1):
                bumped = base.copy().ravel()
                bumped[i] += sign * eps
                v.assign(bumped.reshape(base.shape))
                values.append(float(loss_fn()))
            v.assign(base)
            numeric.append((values[0] - values[1]) / (2 * eps))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_first_order_drops_exactly_the_hessian_term():
    """One step: d/dtheta L_q(theta - a g_s(theta)) = (I - a H_s) g_q; first order keeps g_q."""
    inputs, y = episodes(batch=1, dtype="float64")
    net, lr = tiny_net("float64"), 0.1
    second, first = (MAML(net, inner_steps=1, inner_learning_rate=lr, first_order=fo)
                     for fo in (False, True))
    variables = net.trainable_variables
    grads = {}
    for name, model in (("second", second), ("first", first)):
        with tf.GradientTape() as tape:
            loss = meta_loss(model, inputs, y)
        grads[name] = flat(tape.gradient(loss, variables))

    # Independent reference with plain tapes on the Keras model itself.
    sx, sy, qx = (tf.constant(inputs[k][0]) for k in ("support_x", "support_y", "query_x"))
    mask = tf.constant(inputs["support_mask"][0])[:, None]

    def support_loss():
        return tf.reduce_sum(mask * tf.square(net(sx) - sy)) / tf.reduce_sum(mask)

    with tf.GradientTape() as tape:
        g_s = tape.gradient(support_loss(), variables)
    originals = [v.numpy() for v in variables]
    for v, g in zip(variables, g_s, strict=True):
        v.assign_sub(lr * g)
    with tf.GradientTape() as tape:
        q_loss = tf.reduce_mean(tf.square(net(qx) - y[0]))
    g_q = tape.gradient(q_loss, variables)
    for v, o in zip(variables, originals, strict=True):
        v.assign(o)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = support_loss()
        g = inner.gradient(loss, variables)
        dot = tf.add_n([tf.reduce_sum(a * tf.stop_gradient(b))
                        for a, b in zip(g, g_q, strict=True)])
    hessian_g_q = flat(outer.gradient(dot, variables))

    np.testing.assert_allclose(grads["first"], flat(g_q), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads["second"], flat(g_q) - lr * hessian_g_q,
                               rtol=1e-7, atol=1e-10)
    assert np.abs(grads["second"] - grads["first"]).max() > 1e-4


def test_vectorised_inner_loop_equals_a_loop_over_episodes_with_plain_sgd():
    inputs, _ = episodes(batch=4)
    net, lr, steps = tiny_net(), 0.05, 3
    model = MAML(net, inner_steps=steps, inner_learning_rate=lr)
    batched = [np.asarray(p) for p in model.adapt(inputs, steps=steps).params]
    originals = [v.numpy() for v in net.trainable_variables]
    for b in range(4):
        one = {k: v[b:b + 1] for k, v in inputs.items()}
        alone = model.adapt(one, steps=steps).params
        sx, sy = inputs["support_x"][b], inputs["support_y"][b]
        mask = inputs["support_mask"][b][:, None]
        sgd = keras.optimizers.SGD(lr)
        for _ in range(steps):  # a plain Keras loop: variables, tape, optimizer
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(mask * tf.square(net(sx) - sy)) / mask.sum()
            sgd.apply(tape.gradient(loss, net.trainable_variables), net.trainable_variables)
        for p, a, v in zip(batched, alone, net.trainable_variables, strict=True):
            np.testing.assert_allclose(p[b], np.asarray(a)[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(p[b], v.numpy(), rtol=1e-5, atol=1e-6)
        for v, o in zip(net.trainable_variables, originals, strict=True):
            v.assign(o)


def test_padding_in_the_support_set_is_ignored():
    inputs, _ = episodes(batch=4)
    model = MAML(tiny_net(), inner_steps=2, inner_learning_rate=0.1)
    base = model.predict(inputs, verbose=0)
    padded = dict(inputs)
    garbage = np.where(inputs["support_mask"][..., None] > 0, inputs["support_y"], 1e3)
    padded["support_y"] = garbage.astype("float32")
    padded["support_x"] = np.where(inputs["support_mask"][..., None] > 0,
                                   inputs["support_x"], -7.0).astype("float32")
    np.testing.assert_allclose(model.predict(padded, verbose=0), base, rtol=1e-5, atol=1e-6)
    assert (inputs["support_mask"] == 0).any()


def test_meta_sgd_steps_with_its_per_parameter_rates():
    inputs, _ = episodes(batch=2)
    model = MetaSGD(tiny_net(), inner_learning_rate=0.1)
    theta = [v.numpy() for v in model.model.trainable_variables]
    plain = MAML(model.model, inner_learning_rate=1.0)
    rng = np.random.default_rng(0)
    rates = [rng.uniform(-0.1, 0.2, size=r.shape).astype("float32")
             for r in model.learning_rates]
    for r, value in zip(model.learning_rates, rates, strict=True):
        r.assign(value)
    adapted = model.adapt(inputs, steps=1).params
    gradient_step = plain.adapt(inputs, steps=1).params  # theta - 1.0 * grad
    for p, t, g, r in zip(adapted, theta, gradient_step, rates, strict=True):
        np.testing.assert_allclose(p, t - r * (t - np.asarray(g)), rtol=1e-5, atol=1e-6)


def test_penalties_have_the_documented_values_and_gradients():
    rng = np.random.default_rng(0)
    delta = tf.constant(rng.normal(size=(3, 4)))
    scale = tf.constant(rng.uniform(0.5, 2.0, size=4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([delta, scale])
        quad, quart = quadratic_penalty(delta, scale), quartic_penalty(delta, scale)
        quad_sum, quart_sum = tf.reduce_sum(quad), tf.reduce_sum(quart)
    d, s = delta.numpy(), scale.numpy()
    np.testing.assert_allclose(quad, 0.5 * ((d / s) ** 2).sum(axis=1))
    np.testing.assert_allclose(quart, (((d / s) ** 2 - 1) ** 2).sum(axis=1))
    np.testing.assert_allclose(tape.gradient(quad_sum, delta), d / s**2)
    np.testing.assert_allclose(tape.gradient(quad_sum, scale), (-(d**2) / s**3).sum(axis=0))
    a = 1 / s**2
    np.testing.assert_allclose(tape.gradient(quart_sum, delta), 4 * a * d * (a * d**2 - 1))
    # the quartic's minima sit one scale from the mean, its maximum at the mean
    at = tf.constant(np.stack([s, -s, 0 * s]))
    np.testing.assert_allclose(quartic_penalty(at, scale), [0.0, 0.0, 4.0], atol=1e-12)
    rates = scaled_rates(0.01, scale, 1.0, delta=delta, decay_after=1.0, decay=0.25)
    expected = 0.01 * s**2 * np.where(np.abs(d) > s, 0.25, 1.0)
    np.testing.assert_allclose(rates, expected)


def test_quadratic_prior_pulls_adaptation_towards_the_mean_by_its_scale():
    inputs, _ = episodes(batch=3)
    net = tiny_net()
    free = MAML(net, inner_steps=5, inner_learning_rate=0.1)
    priors = {}
    for scale in (10.0, 0.2):
        priors[scale] = ScaleAwareMAML(net, prior="quadratic", init_scale=scale, inner_steps=5,
                                       inner_learning_rate=0.1)
    theta = flat(net.trainable_variables)

    def moved(model):
        return np.abs(per_episode(model.adapt(inputs).params) - theta).sum(axis=1)

    # the penalty's gradient is zero at the mean: the first step is the same
    np.testing.assert_allclose(per_episode(priors[0.2].adapt(inputs, steps=1).params),
                               per_episode(free.adapt(inputs, steps=1).params))
    assert np.all(moved(priors[0.2]) < 0.75 * moved(free))
    assert moved(priors[10.0]) == pytest.approx(moved(free), rel=1e-3)


def test_scaled_rates_decay_beyond_the_trust_region():
    inputs, _ = episodes(batch=2)
    net = tiny_net()
    kwargs = dict(prior=None, scaled_rates=True, init_scale=1e-3, inner_steps=4,
                  inner_learning_rate=0.05)
    free = ScaleAwareMAML(net, **kwargs)
    frozen = ScaleAwareMAML(net, decay_after=1.0, decay=0.0, **kwargs)
    theta = flat(net.trainable_variables)
    first = per_episode(free.adapt(inputs, steps=1).params)
    np.testing.assert_allclose(first, per_episode(frozen.adapt(inputs, steps=1).params))
    scales = flat(frozen.scales())
    delta = np.abs(per_episode(frozen.adapt(inputs).params) - theta)
    delta_first = np.abs(first - theta)
    beyond = delta_first > scales
    assert beyond.any() and not beyond.all()
    assert np.abs(per_episode(free.adapt(inputs).params) - first)[beyond].max() > 1e-3
    np.testing.assert_allclose(delta[beyond], delta_first[beyond], rtol=1e-5)


def test_automatic_stop_is_decided_per_episode():
    inputs, _ = episodes(batch=2)
    net = tiny_net()
    fitted = dict(inputs)
    # episode 0's targets are the network's own predictions: nothing to improve, it stops
    own = net.predict(inputs["support_x"][0], verbose=0)
    fitted["support_y"] = inputs["support_y"].copy()
    fitted["support_y"][0] = own
    model = MAML(net, inner_steps=6, inner_learning_rate=0.05, stop_tolerance=1e-4)
    adapted = model.adapt(fitted)
    np.testing.assert_array_equal(np.asarray(adapted.steps), [1, 6])
    never = MAML(net, inner_steps=6, inner_learning_rate=0.05, stop_tolerance=1e9)
    np.testing.assert_array_equal(np.asarray(never.adapt(fitted).steps), [1, 1])
    objectives = np.asarray(adapted.objectives)
    assert np.all(np.diff(objectives[1]) < 0)


def test_the_whole_step_compiles_with_xla():
    """Second-order MAML's whole step (inner loop included) under XLA; the benchmark trains
    every algorithm and variant with jit_compile=True."""
    task = SinusoidTask(shots=3, queries=4)
    model = MAML(tiny_net(), inner_steps=1)
    model.compile(keras.optimizers.Adam(1e-3), jit_compile=True)
    history = model.fit(task.dataset(4, seed=0), steps_per_epoch=2, verbose=0)
    assert model.jit_compile and np.isfinite(history.history["loss"]).all()
