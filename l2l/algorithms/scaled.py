"""MAML with a learned per-parameter scale around the learned mean.

`ScaleAwareMAML` meta-learns, besides the initial parameters `m` (the mean), one positive
scale `s` per parameter (stored as `log_scales`, initialised to `init_scale`), and uses it in
any combination of the ways of `l2l.algorithms.priors`:

- `prior="quadratic"`: inner objective `support loss + w * sum(((phi - m) / s)^2) / 2`;
- `prior="quartic"`: inner objective `support loss + w * sum((a (phi - m)^2 - 1)^2)`,
  `a = 1 / s^2`, minima at distance `s` from the mean;
- `scaled_rates=True`: inner learning rates `inner_learning_rate * (s / init_scale)^2`
  (equal to `inner_learning_rate` at initialisation), optionally multiplied by `decay` for
  parameters more than `decay_after` scales from the mean.

The weight `w` is `prior_weight`, or `1 / n` for an episode with `n` support examples when it
is None: the support loss is a mean over examples, so this keeps the prior worth one example's
loss, as in a MAP estimate with unit noise scale. Both penalties have zero gradient at
`phi = m`, so they only act from the second inner step on, and `s` learns through them only
with second-order meta-gradients; the scaled rates act from the first step.

Example:

>>> import keras
>>> from l2l.algorithms import ScaleAwareMAML
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8), keras.layers.Dense(1)])
>>> model = ScaleAwareMAML(net, prior="quadratic", scaled_rates=True, inner_steps=3)
>>> [round(float(s), 3) for s in model.scales()[1][:2]]
[0.1, 0.1]
"""

from __future__ import annotations

import math

import keras
from keras import ops

from l2l.algorithms.base import GradientMetaLearner
from l2l.algorithms.priors import quadratic_penalty, quartic_penalty, scaled_rates
from l2l.serialization import register

PRIORS = {"quadratic": quadratic_penalty, "quartic": quartic_penalty}


@register
class ScaleAwareMAML(GradientMetaLearner):
    """MAML with a learned per-parameter scale; see the module docstring.

    Args:
        model, loss, inner_steps, inner_learning_rate, test_steps, first_order,
            stop_tolerance: as `GradientMetaLearner`.
        prior: None, `"quadratic"` or `"quartic"`: the regulariser around the mean.
        prior_weight: weight of the regulariser; None means `1 / support size`.
        scaled_rates: derive per-parameter inner learning rates from the scale.
        init_scale: initial scale of every parameter (and the reference of `scaled_rates`).
        decay_after: with `scaled_rates`, decay the rate of a parameter beyond this many scales
            from its mean; None never decays.
        decay: factor applied to decayed rates.
    """

    def __init__(self, model, loss="mse", inner_steps: int = 1,
                 inner_learning_rate: float = 0.01, test_steps: int | None = None,
                 first_order: bool = False, stop_tolerance: float | None = None,
                 prior: str | None = "quadratic", prior_weight: float | None = None,
                 scaled_rates: bool = False, init_scale: float = 0.1,
                 decay_after: float | None = None, decay: float = 0.1, **kwargs):
        if prior is not None and prior not in PRIORS:
            raise ValueError(f"Unknown prior {prior!r}; choose None or one of {sorted(PRIORS)}.")
        if prior is None and not scaled_rates:
            raise ValueError("ScaleAwareMAML needs prior='quadratic'/'quartic' and/or "
                             "scaled_rates=True; with neither it is plain MAML (use MAML).")
        for name, value in (("init_scale", init_scale), ("prior_weight", prior_weight),
                            ("decay_after", decay_after)):
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
        if not 0 <= decay <= 1:
            raise ValueError(f"decay must be in [0, 1], got {decay!r}.")
        if decay_after is not None and not scaled_rates:
            raise ValueError("decay_after acts on scaled learning rates: set scaled_rates=True.")
        self.prior, self.prior_weight = prior, prior_weight
        self.scaled_rates, self.init_scale = bool(scaled_rates), float(init_scale)
        self.decay_after, self.decay = decay_after, float(decay)
        super().__init__(model, loss=loss, inner_steps=inner_steps,
                         inner_learning_rate=inner_learning_rate, test_steps=test_steps,
                         first_order=first_order, stop_tolerance=stop_tolerance, **kwargs)

    def create_variables(self) -> None:
        self.log_scales = [
            self.add_weight(shape=v.shape, name=f"log_scale_{i}", dtype=v.dtype,
                            initializer=keras.initializers.Constant(math.log(self.init_scale)))
            for i, v in enumerate(self.model.trainable_variables)]

    def scales(self) -> list:
        """The learned per-parameter scales `s`, as numpy arrays shaped like the variables."""
        return [ops.convert_to_numpy(ops.exp(s)) for s in self.log_scales]

    def inner_penalty(self, theta, phi, support_count):
        if self.prior is None:
            return None
        penalty = PRIORS[self.prior]
        total = sum(penalty(p - t, ops.exp(s))
                    for p, t, s in zip(phi, theta, self.log_scales, strict=True))
        if self.prior_weight is not None:
            return self.prior_weight * total
        return total / ops.maximum(support_count, 1.0)

    def inner_rates(self, theta, phi) -> list:
        if not self.scaled_rates:
            return super().inner_rates(theta, phi)
        return [scaled_rates(self.inner_learning_rate, ops.exp(s), self.init_scale,
                             delta=p - t, decay_after=self.decay_after, decay=self.decay)
                for p, t, s in zip(phi, theta, self.log_scales, strict=True)]

    def get_config(self):
        return {**super().get_config(), "prior": self.prior, "prior_weight": self.prior_weight,
                "scaled_rates": self.scaled_rates, "init_scale": self.init_scale,
                "decay_after": self.decay_after, "decay": self.decay}
