"""Training helpers around `Model.fit`: a wall-clock budget and throughput measurement.

Example:

>>> from l2l.training import TimeBudget
>>> TimeBudget(minutes=15).budget_seconds
900.0
"""

from __future__ import annotations

import time

import keras

from l2l.tasks.base import TaskDistribution


class TimeBudget(keras.callbacks.Callback):
    """Stop `fit` once `minutes` of training wall-clock time have passed.

    Checked after every batch. Time spent in validation is not counted, data waiting is, so
    the budget is what a user waits for training alone. `elapsed` holds the training seconds
    spent when `fit` returned.
    """

    def __init__(self, minutes: float):
        super().__init__()
        self.budget_seconds = 60.0 * minutes
        self.elapsed = 0.0
        self._mark = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._mark is not None:
            self.elapsed += now - self._mark
        self._mark = now

    def on_train_begin(self, logs=None):
        self.elapsed, self._mark = 0.0, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._tick()
        if self.elapsed >= self.budget_seconds:
            self.model.stop_training = True

    def on_test_begin(self, logs=None):
        self._tick()

    def on_test_end(self, logs=None):
        self._mark = time.perf_counter()

    def on_train_end(self, logs=None):
        self._tick()


def generation_rate(task: TaskDistribution, batch_size: int, seconds: float = 2.0,
                    seed: int = 0) -> float:
    """Episodes per second that `task` generates on one worker (numpy, no tf.data)."""
    start, batches = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        task.episodes(batch_size, seed, batches)
        batches += 1
    return batches * batch_size / (time.perf_counter() - start)
