"""Block-diagonal regularised Newton: exact Hessian blocks, descent on non-convex blocks, `fit`
through `SecondOrderModel`, and Newton steps as MAML's inner loop."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from l2l.algorithms import MAML, NewtonMAML
from l2l.errors import InvalidTypeError, InvalidValueError
from l2l.second_order import (
    BlockDiagonalNewton,
    SecondOrderModel,
    block_hessians,
    regularised_solve,
)
from l2l.tasks import SinusoidTask


def test_blocks_of_a_quadratic_equal_the_exact_hessians_blocks():
    rng = np.random.default_rng(0)
    size, block = 7, 3
    a = rng.normal(size=(2, size, size))
    a = a + np.transpose(a, (0, 2, 1))  # one symmetric, indefinite Hessian per problem
    b = rng.normal(size=(2, size))

    def objective(x):
        return 0.5 * tf.einsum("bi,bij,bj->b", x, a, x) + tf.reduce_sum(b * x, axis=1)

    x = rng.normal(size=(2, size))
    value, grads, blocks = block_hessians(objective, x, block)
    np.testing.assert_allclose(grads, np.einsum("bij,bj->bi", a, x) + b, rtol=1e-10)
    np.testing.assert_allclose(value, objective(x), rtol=1e-12)
    assert blocks.shape == (2, 3, block, block)
    for k in range(3):
        lo, hi = k * block, min(size, (k + 1) * block)
        np.testing.assert_allclose(blocks[:, k, : hi - lo, : hi - lo], a[:, lo:hi, lo:hi],
                                   rtol=1e-10)
    np.testing.assert_array_equal(blocks[:, 2, 1:, :], 0.0)  # padding of the last block


def test_eigenvalue_floor_gives_a_descent_direction_on_a_non_convex_block():
    rng = np.random.default_rng(2)
    vectors = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    hessian = vectors @ np.diag([3.0, 1.0, -0.5, -2.0]) @ vectors.T  # a saddle
    g = vectors @ np.array([0.1, 0.1, 1.0, 1.0])
    newton = np.linalg.solve(hessian, g)
    assert g @ newton < 0  # the plain Newton step -H^-1 g goes uphill here
    direction = regularised_solve(hessian[None, None], g[None], 1e-3).numpy()[0]
    assert g @ direction > 0  # -M^-1 g goes downhill
    expected = vectors @ (vectors.T @ g / np.array([3.0, 1.0, 0.5, 2.0]))
    np.testing.assert_allclose(direction, expected, rtol=1e-10)

    def f(x):
        return 0.5 * x @ hessian @ x + g @ x

    assert all(f(-t * direction) < f(np.zeros(4)) for t in (1e-3, 0.1, 0.5, 1.0))
    # tiny eigenvalues are floored, so a flat direction cannot blow the step up
    flat = np.diag([1.0, 1e-9])[None, None]
    np.testing.assert_allclose(regularised_solve(flat, np.array([[1.0, 1.0]]), 0.1), [[1, 10]])


def test_fit_with_newton_steps_beats_sgd_on_the_same_steps_and_saves(tmp_path):
    x = np.linspace(-2, 2, 48, dtype="float32")[:, None]
    y = np.sin(2 * x)
    losses = {}
    for name in ("newton", "sgd"):
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(6, activation="tanh"),
                                keras.layers.Dense(1)])
        if name == "newton":
            model = SecondOrderModel(net)
            model.compile(BlockDiagonalNewton(0.5, block_size=6, max_step=1.0), loss="mse")
        else:
            model = net
            model.compile(keras.optimizers.SGD(0.1), loss="mse")
        history = model.fit(x, y, batch_size=48, epochs=8, verbose=0)
        losses[name] = history.history["loss"]
        if name == "newton":
            newton = model
    assert losses["newton"][-1] < 0.5 * losses["sgd"][-1], losses
    assert newton.optimizer.iterations.numpy() == 8
    newton.save(tmp_path / "newton.keras")
    loaded = keras.models.load_model(tmp_path / "newton.keras")
    assert isinstance(loaded.optimizer, BlockDiagonalNewton)
    assert (loaded.optimizer.block_size, loaded.optimizer.max_step) == (6, 1.0)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), newton.predict(x, verbose=0),
                               rtol=1e-6)


def test_misuse_is_named():
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    net.compile(BlockDiagonalNewton(), loss="mse")
    with pytest.raises(InvalidTypeError, match="SecondOrderModel"):
        net.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
    model = SecondOrderModel(net)
    model.compile("sgd", loss="mse")
    with pytest.raises(InvalidTypeError, match="BlockDiagonalNewton optimizer"):
        model.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
    regularised = SecondOrderModel(keras.Sequential([
        keras.Input((1,)), keras.layers.Dense(1, kernel_regularizer="l2")]))
    regularised.compile(BlockDiagonalNewton(), loss="mse")
    with pytest.raises(InvalidValueError, match="regularisation losses"):
        regularised.train_on_batch(np.ones((2, 1)), np.ones((2, 1)))
    for bad in ({"block_size": 0}, {"eigen_floor": -1.0}, {"max_step": float("nan")}):
        with pytest.raises(InvalidValueError):
            BlockDiagonalNewton(**bad)


def test_newton_inner_step_solves_a_linear_regression_episode_exactly():
    """A linear model's support loss is quadratic: one full Newton step (all parameters in
    one block) lands on the least-squares solution, where MAML's SGD step does not."""
    episodes = SinusoidTask(shots=5, queries=3).fixed_episodes(3, seed=0)
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((1,), dtype="float64"),
                            keras.layers.Dense(1, dtype="float64")])
    inputs = {k: v.astype("float64") for k, v in episodes.inputs().items()}
    newton = NewtonMAML(net, block_size=2, eigen_floor=1e-9, inner_learning_rate=1.0)
    adaptation = newton.adapt(inputs, steps=2)  # the second step stays at the minimum
    adapted = adaptation.params
    for b in range(3):
        design = np.c_[inputs["support_x"][b], np.ones(5)]
        solution = np.linalg.lstsq(design, inputs["support_y"][b, :, 0], rcond=None)[0]
        np.testing.assert_allclose([adapted[0][b, 0, 0], adapted[1][b, 0]], solution,
                                   rtol=1e-8)
    sgd = MAML(net, inner_learning_rate=0.01).adapt(inputs, steps=2)
    after_newton, after_sgd = (np.asarray(a.objectives)[:, 1] for a in (adaptation, sgd))
    assert (after_newton <= after_sgd + 1e-12).all() and after_newton.mean() < after_sgd.mean()


def test_newton_maml_meta_trains_first_order_and_round_trips(tmp_path):
    task = SinusoidTask(shots=4, queries=4)
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(4, activation="tanh"),
                            keras.layers.Dense(1)])
    model = NewtonMAML(net, block_size=8, inner_steps=1, max_step=1.0)
    model.compile(keras.optimizers.Adam(1e-2))
    before = [v.numpy() for v in net.trainable_variables]
    history = model.fit(task.dataset(4, seed=0), steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(np.abs(a - v.numpy()).max() > 0 for a, v in
               zip(before, net.trainable_variables, strict=True))
    assert model.first_order and "first_order" not in model.get_config()
    model.save(tmp_path / "newton_maml.keras")
    loaded = keras.models.load_model(tmp_path / "newton_maml.keras")
    assert (loaded.newton.block_size, loaded.newton.max_step) == (8, 1.0)
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
