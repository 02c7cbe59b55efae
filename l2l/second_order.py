"""Second-order steps with block-diagonal, eigenvalue-regularised Hessians.

The parameters are flattened into one vector `[P]` (in `trainable_variables` order) and cut
into consecutive blocks of `block_size` (the last one shorter). For every block `k` the exact
Hessian block `H_kk` is computed, symmetrised and eigendecomposed, `H_kk = V diag(l) V^T`, and
its eigenvalues are replaced by `max(|l|, eigen_floor)` (the saddle-free Newton rule of
Dauphin et al., 2014). The step is `theta -= learning_rate * M^-1 g` with `M` the regularised
block-diagonal matrix. `M` is positive definite, so `g . M^-1 g > 0` whenever `g != 0`: every
step is a descent direction, also where a block is not convex (negative eigenvalues flip sign
instead of sending the step uphill).

Cost. Exact Hessian blocks need one Hessian-vector product per parameter (a column of `H`
gives a column of one block and nothing cheaper gives the block exactly), computed in one
vectorised `batch_jacobian` call: `P` Hessian-vector products and `[B, P, P]` memory for `B`
independent problems, whatever the block size. The block size sets the eigendecomposition cost,
`(P / b) * O(b^3)`, and how much curvature coupling the step sees. This is for small networks
(the sinusoid regressor has 1,761 parameters); `benchmarks/second_order.py` measures the cost.

How a Keras optimizer gets the Hessian. `keras.optimizers.Optimizer.apply` receives gradients
only, and Keras's `train_step` computes nothing else. So the curvature is computed where the
loss is known, at the model level:

- `BlockDiagonalNewton` is a Keras optimizer (learning rate, schedules, `iterations`,
  serialisation) whose `preconditioned(objective, flat)` returns the loss and the step
  direction, and whose `apply_directions` applies such directions to the variables. Its plain
  `apply`/`apply_gradients` refuse raw gradients instead of silently doing SGD.
- `SecondOrderModel(model)` wraps any Keras model for `fit`: its `train_step` evaluates the
  compiled loss as a function of the flattened parameters (`model.stateless_call`) and asks the
  optimizer for the step. Weight regularisers are refused (they are not functions of the
  flattened parameters here).
- For meta-learning, `l2l.algorithms.NewtonMAML` takes these steps in the inner loop.

Example:

>>> import numpy as np, keras
>>> from l2l.second_order import BlockDiagonalNewton, SecondOrderModel
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
...                         keras.layers.Dense(1)])
>>> model = SecondOrderModel(net)
>>> model.compile(BlockDiagonalNewton(0.5, block_size=8, eigen_floor=1e-2), loss="mse")
>>> x = np.linspace(-2, 2, 64, dtype="float32")[:, None]
>>> losses = [model.train_on_batch(x, np.sin(x)) for _ in range(10)]
>>> bool(losses[-1] < 0.2 * losses[0])
True
"""

from __future__ import annotations

import contextlib
import math

import keras
import numpy as np
import tensorflow as tf

from l2l.errors import InvalidTypeError, InvalidValueError, invalid_value
from l2l.keras_compat import update_loss_metric
from l2l.serialization import deserialize_layers, register, serialize_layers
from l2l.validation import check_positive_int, check_positive_number


def flatten(params) -> tf.Tensor:
    """`[B, *shape_i]` tensors -> one `[B, P]` tensor (each row one problem's parameters)."""
    params = [tf.convert_to_tensor(p) for p in params]
    return tf.concat([tf.reshape(p, (tf.shape(p)[0], -1)) for p in params], axis=1)


def unflatten(flat, shapes) -> list:
    """`[B, P]` -> tensors `[B, *shape_i]`, the inverse of `flatten` for `shapes` (no `B`)."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    parts = tf.split(flat, sizes, axis=1)
    return [tf.reshape(p, tf.concat([tf.shape(flat)[:1], tf.constant(s, tf.int32)], 0))
            for p, s in zip(parts, [list(map(int, s)) for s in shapes], strict=True)]


def block_hessians(objective, flat, block_size: int):
    """`(value [B], grads [B, P], blocks [B, n, b, b])` of `objective` at `flat [B, P]`.

    `objective(flat) -> [B]` must make row `b`'s value depend on row `b` only (independent
    problems, such as episodes). `blocks[:, k]` is the exact Hessian block of parameters
    `k*b .. k*b+b-1`; the last block is zero-padded when `b` does not divide `P`.

    >>> import numpy as np
    >>> a = np.array([[2.0, 1, 0], [1, 3, 1], [0, 1, 4]])
    >>> f = lambda x: 0.5 * tf.einsum("bi,ij,bj->b", x, a, x)
    >>> _, _, blocks = block_hessians(f, np.ones((1, 3)), block_size=2)
    >>> blocks.numpy()[0].tolist()
    [[[2.0, 1.0], [1.0, 3.0]], [[4.0, 0.0], [0.0, 0.0]]]
    """
    flat = tf.convert_to_tensor(flat)
    with tf.GradientTape(watch_accessed_variables=False) as outer:
        outer.watch(flat)
        with tf.GradientTape(watch_accessed_variables=False) as inner:
            inner.watch(flat)
            value = objective(flat)
            total = tf.reduce_sum(value)
        grads = inner.gradient(total, flat)
    hessian = outer.batch_jacobian(grads, flat)
    return value, grads, diagonal_blocks(hessian, block_size)


def diagonal_blocks(matrix, block_size: int):
    """The diagonal `b x b` blocks `[B, n, b, b]` of `matrix [B, P, P]` (zero-padded)."""
    size = matrix.shape[-1]
    count = math.ceil(size / block_size)
    pad = count * block_size - size
    padded = tf.pad(matrix, [[0, 0], [0, pad], [0, pad]])
    tiles = tf.reshape(padded, (-1, count, block_size, count, block_size))
    diagonal = tf.linalg.diag_part(tf.transpose(tiles, (0, 2, 4, 1, 3)))  # [B, b, b, n]
    return tf.transpose(diagonal, (0, 3, 1, 2))


def regularised_solve(blocks, grads, eigen_floor: float):
    """`M^-1 g` `[B, P]`, with `M` the blocks with eigenvalues `max(|l|, eigen_floor)`.

    `blocks [B, n, b, b]` (see `block_hessians`), `grads [B, P]`.

    >>> import numpy as np
    >>> saddle = np.array([[[[1.0, 0.0], [0.0, -2.0]]]])        # one non-convex block
    >>> regularised_solve(saddle, np.array([[1.0, 1.0]]), 1e-3).numpy().tolist()
    [[1.0, 0.5]]
    """
    blocks = tf.convert_to_tensor(blocks)
    grads = tf.cast(grads, blocks.dtype)
    count, size = blocks.shape[1], blocks.shape[2]
    length = grads.shape[-1]
    padded = tf.pad(grads, [[0, 0], [0, count * size - length]])
    g = tf.reshape(padded, (-1, count, size))
    eigenvalues, vectors = tf.linalg.eigh(0.5 * (blocks + tf.linalg.matrix_transpose(blocks)))
    floor = tf.maximum(tf.abs(eigenvalues), tf.cast(eigen_floor, blocks.dtype))
    coefficients = tf.einsum("bkij,bki->bkj", vectors, g) / floor
    solved = tf.einsum("bkij,bkj->bki", vectors, coefficients)
    return tf.reshape(solved, (-1, count * size))[:, :length]


@register
class BlockDiagonalNewton(keras.optimizers.Optimizer):
    """A Keras optimizer taking regularised block-diagonal Newton steps (module docstring).

    Args:
        learning_rate: step size (a float or a schedule); 1.0 is the full Newton step.
        block_size: parameters per Hessian block.
        eigen_floor: smallest absolute eigenvalue a block may have after regularisation.
        max_step: if set, the largest norm of one problem's step direction `M^-1 g` (a trust
            region); None does not clip.

    Use it with `SecondOrderModel` (plain `fit`) or `l2l.algorithms.NewtonMAML`; given plain
    gradients (`apply`, `apply_gradients`) it raises an error, since it needs the Hessian.
    """

    def __init__(self, learning_rate=1.0, block_size: int = 32, eigen_floor: float = 1e-2,
                 max_step: float | None = None, name: str = "block_diagonal_newton", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.block_size = check_positive_int("block_size", block_size)
        self.eigen_floor = check_positive_number("eigen_floor", eigen_floor)
        self.max_step = None if max_step is None else check_positive_number("max_step", max_step)
        self._directions_given = False

    def preconditioned(self, objective, flat):
        """`(value [B], direction [B, P])`: the objective at `flat [B, P]` and `M^-1 g`.

        The direction is a constant (no gradient flows through the Hessian or its
        eigendecomposition), clipped to `max_step` per row if set.
        """
        flat = tf.stop_gradient(tf.convert_to_tensor(flat))
        value, grads, blocks = block_hessians(objective, flat, self.block_size)
        direction = regularised_solve(blocks, grads, self.eigen_floor)
        if self.max_step is not None:
            norm = tf.norm(direction, axis=1, keepdims=True)
            direction = direction * tf.minimum(1.0, self.max_step / tf.maximum(norm, 1e-12))
        return value, tf.stop_gradient(direction)

    def apply_directions(self, directions, variables) -> None:
        """`variable -= learning_rate * direction` for each pair (and count the iteration)."""
        with self._accepting_directions():
            super().apply(directions, variables)

    @contextlib.contextmanager
    def _accepting_directions(self):
        self._directions_given = True
        try:
            yield
        finally:
            self._directions_given = False

    def apply(self, grads, trainable_variables=None):
        if not self._directions_given:
            raise InvalidTypeError(
                "BlockDiagonalNewton needs the loss's Hessian, but a Keras optimizer only "
                "receives gradients. Fix: train with l2l.second_order.SecondOrderModel(model) "
                "(fit), or use l2l.algorithms.NewtonMAML for inner loops.")
        return super().apply(grads, trainable_variables)

    def update_step(self, gradient, variable, learning_rate):
        """Keras's per-variable step: here a plain gradient step along a precomputed direction."""
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        self.assign_sub(variable, keras.ops.multiply(keras.ops.cast(gradient, variable.dtype),
                                                     learning_rate))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size,
                "eigen_floor": self.eigen_floor, "max_step": self.max_step}


@register
class SecondOrderModel(keras.Model):
    """`model` trained by `fit` with a `BlockDiagonalNewton` optimizer (full-batch steps).

    Each `train_step` computes the compiled loss of the batch as a function of the flattened
    trainable parameters, its gradient and Hessian blocks, and applies the regularised Newton
    step. Predicting and evaluating are the wrapped model's own. Batch size is the user's
    choice: a Newton step on a small mini-batch fits that batch.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.Layer):
            raise invalid_value("model", model, "a Keras model or layer",
                                error=InvalidTypeError)
        self.model = model

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def train_step(self, data):
        if not isinstance(self.optimizer, BlockDiagonalNewton):
            raise InvalidTypeError(
                f"SecondOrderModel trains with a BlockDiagonalNewton optimizer, got "
                f"{type(self.optimizer).__name__}. Fix: compile(BlockDiagonalNewton(...)), or "
                "train the wrapped model itself with first-order optimizers.")
        if self.model.losses:
            raise InvalidValueError(
                "SecondOrderModel: the wrapped model has regularisation losses, which this "
                "step does not differentiate. Fix: remove the regularisers or add the penalty "
                "to the compiled loss.")
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.model.trainable_variables
        shapes = [tuple(v.shape) for v in variables]
        state = [tf.convert_to_tensor(v) for v in self.model.non_trainable_variables]

        def objective(flat):
            params = [p[0] for p in unflatten(flat, shapes)]
            y_pred, _ = self.model.stateless_call(params, state, x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            return tf.reshape(loss, (1,))

        current = flatten([tf.convert_to_tensor(v)[None] for v in variables])
        value, direction = self.optimizer.preconditioned(objective, current)
        y_pred = self.model(x, training=True)  # before the step, as Keras's train_step
        self.optimizer.apply_directions(
            [d[0] for d in unflatten(direction, shapes)], variables)
        update_loss_metric(self, value[0], sample_weight=tf.shape(y_pred)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **serialize_layers(model=self.model)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "model"))
