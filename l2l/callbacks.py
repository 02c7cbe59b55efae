"""Keras callbacks of l2l: stop a run at the first non-finite loss, with a message that helps.

`l2l.models.MetaModel.fit` and the `l2l.algorithms` meta-learners add `StopOnNonFiniteLoss`
by default (see `l2l.checked_model.CheckedModel`); give it to any other model's `fit` yourself.

Example:

>>> import numpy as np, keras
>>> from l2l.callbacks import StopOnNonFiniteLoss
>>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
>>> model.compile(keras.optimizers.SGD(float("inf")), "mse")
>>> model.fit(np.ones((8, 1)), np.ones((8, 1)), batch_size=4, epochs=2, verbose=0,
...           callbacks=[StopOnNonFiniteLoss()])
Traceback (most recent call last):
...
l2l.errors.NonFiniteLossError: The training loss became ... at step 2 (epoch 1, batch 2)...
"""

from __future__ import annotations

import math

import keras

from l2l.errors import NonFiniteLossError


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise `l2l.errors.NonFiniteLossError` at the first step whose loss is NaN or infinite.

    It raises at once, from the end of that step, so no later callback runs: checkpoints,
    saved models and result files keep what the last healthy epoch wrote. (Put it before
    callbacks that save every batch; `fit`'s default places it first.) `step` counts the
    steps of this `fit` from 1. Reading the loss each step waits for that step to finish,
    which Keras's progress bar does anyway.
    """

    def __init__(self):
        super().__init__()
        self.step = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(keras.ops.convert_to_numpy(loss))
        if math.isfinite(loss):
            return
        raise NonFiniteLossError(
            f"The training loss became {loss} at step {self.step} (epoch {self._epoch + 1}, "
            f"batch {batch + 1}), and training was stopped there; nothing was saved after the "
            "last healthy epoch. Usual causes: a learning rate too high (or inf); NaN, "
            "infinite or badly scaled data (inputs or targets); a diverging inner loop "
            "(gradient meta-learners: lower inner_learning_rate or inner_steps).")
