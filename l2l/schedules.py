"""Learning-rate schedules: linear warm-up, then a cosine to a floor.

`WarmupCosine(peak, warmup_steps, decay_steps)` rises linearly from 0 to `peak` over the first
`warmup_steps` steps, then follows half a cosine from `peak` down to `peak * alpha` at step
`warmup_steps + decay_steps`, and stays there. It is a Keras `LearningRateSchedule`, so it is
passed as an optimizer's `learning_rate` and saved with the model (`get_config`). For a run
limited by time rather than steps, `l2l.training.TimeBudget(anneal_learning_rate=True)` is the
time-based cosine (without warm-up).

Example:

>>> from l2l.schedules import WarmupCosine
>>> schedule = WarmupCosine(1e-3, warmup_steps=100, decay_steps=900)
>>> [round(float(schedule(s)), 6) for s in (0, 50, 100, 550, 1000, 2000)]
[0.0, 0.0005, 0.001, 0.0005, 0.0, 0.0]
"""

from __future__ import annotations

import math

import keras
from keras import ops

from l2l.errors import invalid_value
from l2l.validation import check_learning_rate

__all__ = ["WarmupCosine"]


@keras.saving.register_keras_serializable(package="l2l")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup_steps`, then a cosine to `peak * alpha` over
    `decay_steps` (held there afterwards).

    Args:
        peak: the highest rate, reached at step `warmup_steps`.
        warmup_steps: steps of the linear rise from 0 (0: start at `peak`).
        decay_steps: steps of the cosine after the warm-up (>= 1).
        alpha: the final rate as a fraction of `peak`, in [0, 1].
    """

    def __init__(self, peak: float, warmup_steps: int, decay_steps: int, alpha: float = 0.0,
                 name: str = "warmup_cosine"):
        super().__init__()
        self.peak = float(check_learning_rate(peak))
        for field, value, low in (("warmup_steps", warmup_steps, 0),
                                  ("decay_steps", decay_steps, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise invalid_value(field, value, f"an integer >= {low}")
        if isinstance(alpha, bool) or not 0.0 <= float(alpha) <= 1.0:
            raise invalid_value("alpha", alpha, "a number in [0, 1]")
        self.warmup_steps, self.decay_steps = int(warmup_steps), int(decay_steps)
        self.alpha, self.name = float(alpha), name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = float(max(self.warmup_steps, 1))
        rising = self.peak * ops.minimum(step / warm, 1.0)
        done = ops.clip((step - self.warmup_steps) / self.decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * done))
        falling = self.peak * (self.alpha + (1.0 - self.alpha) * cosine)
        return ops.where(step < self.warmup_steps, rising, falling)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name}
