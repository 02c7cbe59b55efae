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

`init_scale="stable"` starts every scale at `l2l.algorithms.priors.stable_scale` for the
largest weight an episode can get (`prior_weight`, else 1 for a one-shot episode): the inner
step is then a Newton step at the prior's minimum. That is the default 0.1 for the quadratic at
inner learning rate 0.01, but 0.283 for the quartic. From 0.1 at that rate, one step of the
quartic near its minimum multiplies the distance to it by `1 - 8 w` (with `scaled_rates`, at
any learned scale): unstable for episodes of fewer than 4 shots (`w = 1 / n`), and at 5 shots a
parameter the data moves past about 1.9 scales diverges (see `benchmarks/scale_priors.py`).

The weight `w` is `prior_weight`, or `1 / n` for an episode with `n` support examples when it
is None: the support loss is a mean over examples, so this keeps the prior worth one example's
loss, as in a MAP estimate with unit noise scale. Two options change it during meta-training:

- `prior_warmup=T`: `w` is multiplied by `min(1, t / T)` at meta-update `t` (0 at the first
  update, the full `w` from update `T` on; `prior_ramp` holds the factor, and a trained model
  keeps the last one it trained with);
- `learn_prior_weight=True`: `w` is multiplied by a meta-learned `exp(g)` (`log_prior_gain`,
  `g = 0` at initialisation), so the meta-gradient can weaken or strengthen the prior.

Both penalties have zero gradient at `phi = m`, so they only act from the second inner step
on, and `s` learns through them only with second-order meta-gradients; the scaled rates act
from the first step. The quartic's mean is a maximum: near it the quartic pushes a parameter
away, by `1 + 4 w lr / s_0^2` per step (`s_0 = init_scale`, with `scaled_rates`), towards
moving by `s` in whichever direction the data first moved it.

Example:

>>> import keras
>>> from l2l.algorithms import ScaleAwareMAML
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8), keras.layers.Dense(1)])
>>> model = ScaleAwareMAML(net, prior="quadratic", scaled_rates=True, inner_steps=3)
>>> [round(float(s), 3) for s in model.scales()[1][:2]]
[0.1, 0.1]
>>> quartic = ScaleAwareMAML(net, prior="quartic", scaled_rates=True, init_scale="stable")
>>> round(float(quartic.scales()[1][0]), 3)  # sqrt(8 * 0.01): see `priors.stable_scale`
0.283
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from l2l.algorithms.base import GradientMetaLearner
from l2l.algorithms.priors import (
    quadratic_penalty,
    quartic_penalty,
    scaled_rates,
    stable_scale,
)
from l2l.errors import invalid_value
from l2l.serialization import register
from l2l.validation import check_positive_number

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
        init_scale: initial scale of every parameter (and the reference of `scaled_rates`), or
            `"stable"` for `stable_scale` (see the module docstring).
        decay_after: with `scaled_rates`, decay the rate of a parameter beyond this many scales
            from its mean; None never decays.
        decay: factor applied to decayed rates.
        prior_warmup: meta-updates over which the prior's weight rises linearly from 0 to its
            value; None applies it fully from the start.
        learn_prior_weight: meta-learn a positive factor `exp(g)` of the prior's weight.
    """

    def __init__(self, model, loss="mse", inner_steps: int = 1,
                 inner_learning_rate: float = 0.01, test_steps: int | None = None,
                 first_order: bool = False, stop_tolerance: float | None = None,
                 prior: str | None = "quadratic", prior_weight: float | None = None,
                 scaled_rates: bool = False, init_scale: float | str = 0.1,
                 decay_after: float | None = None, decay: float = 0.1,
                 prior_warmup: int | None = None, learn_prior_weight: bool = False, **kwargs):
        if prior is not None and prior not in PRIORS:
            raise ValueError(f"Unknown prior {prior!r}; choose None or one of {sorted(PRIORS)}.")
        if prior is None and not scaled_rates:
            raise ValueError("ScaleAwareMAML needs prior='quadratic'/'quartic' and/or "
                             "scaled_rates=True; with neither it is plain MAML (use MAML).")
        if init_scale == "stable":
            if prior is None:
                raise invalid_value("init_scale", init_scale, "a positive number",
                                    "init_scale='stable' is chosen for a prior: set prior")
            self.init_scale_option = init_scale
            init_scale = stable_scale(prior, inner_learning_rate,
                                      1.0 if prior_weight is None else prior_weight)
        else:
            self.init_scale_option = init_scale
        for name, value in (("init_scale", init_scale), ("prior_weight", prior_weight),
                            ("decay_after", decay_after)):
            if value is not None:
                check_positive_number(name, value)
        if not 0 <= decay <= 1:
            raise ValueError(f"decay must be in [0, 1], got {decay!r}.")
        if decay_after is not None and not scaled_rates:
            raise ValueError("decay_after acts on scaled learning rates: set scaled_rates=True.")
        if prior is None and (prior_warmup is not None or learn_prior_weight):
            raise invalid_value("prior", prior, "'quadratic' or 'quartic'",
                                "prior_warmup and learn_prior_weight change the prior's weight, "
                                "so they need a prior")
        if prior_warmup is not None and (isinstance(prior_warmup, bool) or not isinstance(
                prior_warmup, (int, np.integer)) or prior_warmup < 1):
            raise invalid_value("prior_warmup", prior_warmup,
                                "None or a positive number of meta-updates")
        self.prior, self.prior_weight = prior, prior_weight
        self.prior_warmup = None if prior_warmup is None else int(prior_warmup)
        self.learn_prior_weight = bool(learn_prior_weight)
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
        dtype = self.model.trainable_variables[0].dtype
        if self.learn_prior_weight:
            self.log_prior_gain = self.add_weight(shape=(), name="log_prior_gain", dtype=dtype,
                                                  initializer="zeros")
        if self.prior_warmup is not None:
            self.prior_ramp = self.add_weight(shape=(), name="prior_ramp", dtype=dtype,
                                              initializer="zeros", trainable=False)

    def prior_factor(self):
        """The factor of the prior's weight from `prior_warmup` and `learn_prior_weight`: 1
        when neither is set."""
        factor = ops.convert_to_tensor(1.0, self.model.trainable_variables[0].dtype)
        if self.prior_warmup is not None:
            factor = factor * ops.convert_to_tensor(self.prior_ramp)
        if self.learn_prior_weight:
            factor = factor * ops.exp(self.log_prior_gain)
        return factor

    def train_step(self, data):
        """Keras's train step, after setting `prior_ramp` for this meta-update."""
        if self.prior_warmup is not None:
            step = ops.cast(self.optimizer.iterations, self.prior_ramp.dtype)
            self.prior_ramp.assign(ops.minimum(1.0, step / self.prior_warmup))
        return super().train_step(data)

    def scales(self) -> list:
        """The learned per-parameter scales `s`, as numpy arrays shaped like the variables."""
        return [ops.convert_to_numpy(ops.exp(s)) for s in self.log_scales]

    def inner_penalty(self, theta, phi, support_count):
        if self.prior is None:
            return None
        penalty = PRIORS[self.prior]
        total = sum(penalty(p - t, ops.exp(s))
                    for p, t, s in zip(phi, theta, self.log_scales, strict=True))
        total = total * self.prior_factor()
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
                "scaled_rates": self.scaled_rates, "init_scale": self.init_scale_option,
                "decay_after": self.decay_after, "decay": self.decay,
                "prior_warmup": self.prior_warmup, "learn_prior_weight": self.learn_prior_weight}
