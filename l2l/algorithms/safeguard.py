"""A safe extrapolation rule for inner loops: reject steps that raise the support objective.

A meta-learned inner loop (Meta-SGD's learned rates, a learned scale) is tuned for the number
of steps it was trained with; run longer, a step can overshoot and the loop diverge. With
`safe_steps=True` a `GradientMetaLearner` checks every step on the support set, which it sees
anyway: an episode whose objective after a step is higher than before (or not finite) goes
back to the parameters before that step and halves its step size from then on (backtracking,
per episode). The check reuses the objective the next step computes, so it costs one extra
support evaluation per call (after the last step), not one per step.

Example:

>>> import numpy as np
>>> phi, objective, updates, scale = backtrack(
...     ([np.zeros((2, 1))], np.array([1.0, 1.0]), [np.ones((2, 1))]),
...     [np.array([[5.0], [0.5]])], np.array([3.0, 0.2]), [np.ones((2, 1))], np.ones(2))
>>> np.asarray(phi[0]).ravel().tolist(), np.asarray(scale).tolist()
([0.0, 0.5], [0.5, 1.0])
"""

from __future__ import annotations

from keras import ops


def backtrack(accepted, phi, objective, updates, scale, shrink: float = 0.5):
    """Undo, per episode, a step that did not lower the objective.

    `accepted` is `(phi, objective, updates)` before the step; `phi`, `objective [B]`,
    `updates` after it; `scale [B]` multiplies each episode's step. Returns the same four,
    with rejected episodes back at `accepted` and their `scale` times `shrink`.
    """
    old_phi, old_objective, old_updates = accepted
    objective = ops.convert_to_tensor(objective)
    worse = ops.logical_not(objective <= ops.cast(old_objective, objective.dtype))

    def keep(new, old):
        new = ops.convert_to_tensor(new)
        mask = ops.reshape(worse, (-1,) + (1,) * (len(new.shape) - 1))
        return ops.where(mask, ops.cast(old, new.dtype), new)

    return ([keep(n, o) for n, o in zip(phi, old_phi, strict=True)],
            ops.where(worse, ops.cast(old_objective, objective.dtype), objective),
            [keep(n, o) for n, o in zip(updates, old_updates, strict=True)],
            ops.where(worse, scale * shrink, scale))
