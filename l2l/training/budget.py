"""A wall-clock budget for `Model.fit`: stop (and optionally anneal the learning rate) on time.

Example:

>>> from l2l.training.budget import TimeBudget
>>> TimeBudget(minutes=15).budget_seconds
900.0
"""

from __future__ import annotations

import math
import time

import keras

from l2l.errors import InvalidValueError
from l2l.training.distribute import chief_value


class TimeBudget(keras.callbacks.Callback):
    """Stop `fit` once `minutes` of training wall-clock time have passed.

    Checked after every batch (under a multi-worker strategy, on the chief's clock). Time
    spent in validation is not counted, data waiting is, so
    the budget is what a user waits for training alone. `elapsed` holds the training seconds
    spent when `fit` returned.

    With `anneal_learning_rate=True` the optimizer's (float) learning rate follows a cosine
    from its initial value to zero over the budget, the time-based counterpart of
    `keras.optimizers.schedules.CosineDecay` for runs whose step count is not known ahead.
    """

    def __init__(self, minutes: float, anneal_learning_rate: bool = False):
        super().__init__()
        if not minutes > 0:
            raise InvalidValueError(f"minutes must be positive, got {minutes}.")
        self.budget_seconds = 60.0 * minutes
        self.anneal_learning_rate = anneal_learning_rate
        self.elapsed = 0.0
        self._mark = None
        self._strategy = None
        self._initial_rate = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._mark is not None:
            self.elapsed += now - self._mark
        self._mark = now

    def on_train_begin(self, logs=None):
        self.elapsed, self._mark = 0.0, time.perf_counter()
        self._strategy = self.model.distribute_strategy
        if self.anneal_learning_rate and math.isfinite(self.budget_seconds):
            rate = self.model.optimizer.learning_rate
            if not isinstance(rate, keras.Variable):
                raise InvalidValueError(
                    "TimeBudget(anneal_learning_rate=True) needs a float learning "
                                 "rate, not a schedule: compile with a number.")
            self._initial_rate = float(keras.ops.convert_to_numpy(rate))

    def on_train_batch_begin(self, batch, logs=None):
        if self._initial_rate is not None:
            progress = min(1.0, self.elapsed / self.budget_seconds)
            self.model.optimizer.learning_rate.assign(
                self._initial_rate * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def on_train_batch_end(self, batch, logs=None):
        self._tick()
        # Workers of a multi-worker run follow the chief's clock, so they stop (and anneal)
        # together.
        self.elapsed = chief_value(self.elapsed, self._strategy)
        if self.elapsed >= self.budget_seconds:
            self.model.stop_training = True

    def on_test_begin(self, logs=None):
        self._tick()

    def on_test_end(self, logs=None):
        self._mark = time.perf_counter()

    def on_train_end(self, logs=None):
        self._tick()
