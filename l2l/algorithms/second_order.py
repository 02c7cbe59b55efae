"""MAML whose inner loop takes regularised block-diagonal Newton steps.

`NewtonMAML` is `MAML` with the inner update of `l2l.second_order`: for every episode, the
exact Hessian blocks of its support objective (blocks of `block_size` flattened parameters),
eigenvalues floored at `max(|l|, eigen_floor)`, and the step
`phi -= inner_learning_rate * M^-1 g` (`inner_learning_rate=1.0` is the full step). All
episodes of a batch are solved at once (`batch_jacobian` over the `[B, P]` parameters).

The meta-gradient is first order: the Newton direction is treated as a constant (its
derivative would need third derivatives of the loss and the derivative of an
eigendecomposition), so `first_order` is always True. The usual use is to meta-train with any
gradient-based learner and adapt with Newton steps at test time, sharing the network:
`NewtonMAML(maml.model, test_steps=3)`.

Example:

>>> import keras
>>> from l2l.algorithms import NewtonMAML
>>> from l2l.tasks import SinusoidTask
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
...                         keras.layers.Dense(1)])
>>> newton = NewtonMAML(net, block_size=16, inner_steps=2)
>>> adapted = newton.adapt(SinusoidTask(shots=5).fixed_episodes(3, seed=0).inputs())
>>> tuple(adapted.objectives.shape)
(3, 2)
"""

from __future__ import annotations

from l2l.algorithms.maml import MAML
from l2l.second_order import BlockDiagonalNewton, flatten, unflatten
from l2l.serialization import register


@register
class NewtonMAML(MAML):
    """MAML with regularised block-diagonal Newton inner steps (see the module docstring).

    Args:
        model, loss, inner_steps, test_steps, stop_tolerance: as `GradientMetaLearner`.
        inner_learning_rate: the Newton step size (1.0: full step).
        block_size: parameters per Hessian block.
        eigen_floor: smallest absolute eigenvalue after regularisation.
        max_step: if set, the largest norm of one episode's step direction (a trust region).
    """

    def __init__(self, model, loss="mse", inner_steps: int = 1,
                 inner_learning_rate: float = 1.0, test_steps: int | None = None,
                 stop_tolerance: float | None = None, block_size: int = 32,
                 eigen_floor: float = 1e-2, max_step: float | None = None, **kwargs):
        kwargs.pop("first_order", None)
        self.newton = BlockDiagonalNewton(inner_learning_rate, block_size=block_size,
                                          eigen_floor=eigen_floor, max_step=max_step)
        super().__init__(model, loss=loss, inner_steps=inner_steps,
                         inner_learning_rate=inner_learning_rate, test_steps=test_steps,
                         first_order=True, stop_tolerance=stop_tolerance, **kwargs)

    def inner_update(self, theta, phi, inputs, adapted, training=False, first_order=True):
        shapes = [tuple(phi[i].shape[1:]) for i in adapted]

        def objective(flat):
            current = list(phi)
            for i, p in zip(adapted, unflatten(flat, shapes), strict=True):
                current[i] = p
            return self.support_objective(theta, current, inputs, training=training)

        value, direction = self.newton.preconditioned(objective,
                                                      flatten([phi[i] for i in adapted]))
        steps = unflatten(self.inner_learning_rate * direction, shapes)
        return value, steps

    def get_config(self):
        config = super().get_config()
        config.pop("first_order")
        return {**config, "block_size": self.newton.block_size,
                "eigen_floor": self.newton.eigen_floor, "max_step": self.newton.max_step}
