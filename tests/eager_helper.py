"""Scoring a model without tracing `predict`: for tests that score several small models once."""

from __future__ import annotations

import numpy as np

from l2l.testing import predict_eagerly  # noqa: F401  (re-exported for the tests)


class Eager:
    """`model` for `l2l.evaluation.evaluate`, predicting eagerly: no `predict` function to trace."""

    def __init__(self, model):
        self.model = model

    def predict(self, inputs, batch_size=None, verbose=0):
        return np.asarray(self.model(inputs, training=False))
