"""Per-parameter scale around the meta-learned mean: regularisers and inner learning rates.

MAML learns where adaptation starts (the mean `m` of every parameter). This module adds a
learned per-parameter *scale* `s`: how far that parameter typically moves between tasks.
The scale is used in three ways, each a function here (all act on `delta = phi - m`, the
distance of the adapted parameters from the mean, shaped `[B, *shape]`):

- `quadratic_penalty`: `sum((delta / s)^2) / 2`, a Gaussian prior of standard deviation `s`
  around the mean: parameters with a small scale stay close to it.
- `quartic_penalty`: `sum((a * delta^2 - 1)^2)` with `a = 1 / s^2`, whose minima sit at
  `|delta| = s`: every parameter is pulled towards moving by its learned distance, no less and
  no more. At `delta = 0` its gradient is zero (a maximum), so it acts once the data moved
  the parameter.
- `stable_scale`: the scale at which a prior's inner step is stable: its curvature at its
  minimum (`1 / s^2` quadratic, `8 / s^2` quartic) times step size and weight is 1, so one
  step near the minimum is a Newton step. Larger than 2 there, the inner loop oscillates
  and, for the quartic's cubic gradient, diverges.
- `scaled_rates`: per-parameter inner learning rates `lr * (s / s_ref)^2`, the step a
  Gaussian prior of variance `s^2` suggests (parameters that vary a lot between tasks move
  fast); optionally multiplied by `decay` once `|delta| > decay_after * s`, a soft trust
  region of `decay_after` scales.

Example:

>>> import numpy as np
>>> from l2l.algorithms.priors import quadratic_penalty, quartic_penalty
>>> delta, scale = np.array([[0.2, -0.1]]), np.array([0.1, 0.1])
>>> np.round(np.asarray(quadratic_penalty(delta, scale)), 4).tolist()
[2.5]
>>> np.round(np.asarray(quartic_penalty(delta, scale)), 4).tolist()
[9.0]
>>> round(stable_scale("quartic", inner_learning_rate=0.01, weight=1.0), 4)
0.2828
"""

from __future__ import annotations

import math

from keras import ops

CURVATURE = {"quadratic": 1.0, "quartic": 8.0}
"""Second derivative of each penalty at its minimum, times `scale^2`."""


def _sum_per_episode(x):
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def quadratic_penalty(delta, scale):
    """`sum((delta / scale)^2) / 2` per episode: `delta [B, *shape]`, `scale [*shape]` -> `[B]`."""
    delta = ops.convert_to_tensor(delta)
    return 0.5 * _sum_per_episode(ops.square(delta / ops.cast(scale, delta.dtype)))


def quartic_penalty(delta, scale):
    """`sum((delta^2 / scale^2 - 1)^2)` per episode; minima where `|delta| = scale`."""
    delta = ops.convert_to_tensor(delta)
    return _sum_per_episode(ops.square(ops.square(delta / ops.cast(scale, delta.dtype)) - 1.0))


def stable_scale(prior: str, inner_learning_rate: float, weight: float = 1.0) -> float:
    """`sqrt(CURVATURE[prior] * inner_learning_rate * weight)`: the scale at which a plain SGD
    step on `weight * penalty` is a Newton step at the penalty's minimum.

    For the quadratic at learning rate 0.01 and weight 1 that is 0.1; the quartic, 8 times as
    curved at its minimum, needs `sqrt(8)` times the scale (0.283) for the same step.
    """
    return math.sqrt(CURVATURE[prior] * inner_learning_rate * weight)


def scaled_rates(learning_rate: float, scale, reference: float, delta=None,
                 decay_after: float | None = None, decay: float = 0.1):
    """Inner learning rates `learning_rate * (scale / reference)^2`, shaped like `scale`.

    With `decay_after`, rates of parameters further than `decay_after * scale` from the mean
    (`|delta|`, `[B, *shape]`) are multiplied by `decay`; the result is then `[B, *shape]`.

    >>> import numpy as np
    >>> rates = scaled_rates(0.01, np.array([0.1, 0.2]), reference=0.1,
    ...                      delta=np.array([[0.0, 1.0]]), decay_after=3.0, decay=0.5)
    >>> np.round(np.asarray(rates), 4).tolist()
    [[0.01, 0.02]]
    """
    scale = ops.convert_to_tensor(scale)
    rates = learning_rate * ops.square(scale / reference)
    if decay_after is None or delta is None:
        return rates
    delta = ops.cast(delta, scale.dtype)
    beyond = ops.cast(ops.abs(delta) > decay_after * scale, scale.dtype)
    return rates * (1.0 - beyond * (1.0 - decay))
