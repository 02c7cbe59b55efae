"""Class-code predictor: one shared MLP scores every query against every class's code.

A learner that pools its support set per class (`PooledLearner(pool="classes")`) gives one
code per class as context entries: `CONTEXT_KEYS [B, N, D]` the codes, entry `c` being class
`c` (`CONTEXT` its one-hot label), `CONTEXT_MASK [B, N]` marking classes that have support
examples. `ClassCodePredictor` scores query `q` against class code `r_c` with one MLP
shared by all classes, `logit_c = mlp([p, r_c, p * r_c, |p - r_c|])` (`p` the query projected
to the code's size), the learned comparison of Relation Networks (Sung et al., 2018) on the
pooled codes of a Conditional Neural Process. Classes without support examples get
`l2l.ops.ABSENT_CLASS_LOGIT`. Because the score of class `c` reads only `r_c`, relabelling the
classes of an episode permutes the logits in the same way.

Example:

>>> import numpy as np
>>> from l2l.predictors import ClassCodePredictor
>>> codes = {"context_keys": np.ones((2, 3, 4)), "context": np.tile(np.eye(3), (2, 1, 1)),
...          "context_mask": np.array([[1, 1, 0], [1, 1, 1]])}
>>> logits = ClassCodePredictor(units=(8,))(np.ones((2, 5, 6)), codes)
>>> tuple(logits.shape), bool(logits[0, 0, 2] < -1e8)
((2, 5, 3), True)
"""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.learners.base import CONTEXT_KEYS, CONTEXT_MASK
from l2l.ops import ABSENT_CLASS_LOGIT, apply_per_example
from l2l.predictors.base import Predictor, require
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class ClassCodePredictor(Predictor):
    """Logits `[B, Q, N]`: a shared MLP of each query with each class code.

    Args:
        units: hidden layer sizes of the scoring MLP.
        encoder: optional layer applied to each query `x` first.
    """

    def __init__(self, units=(128,), encoder=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.encoder = tuple(units), encoder
        self.mlp = keras.Sequential(
            [layers.Dense(u, activation="relu") for u in self.units] + [layers.Dense(1)],
            name="score_mlp")

    def build(self, query_x_shape, learner_output_shape=None):
        self.project = layers.Dense(learner_output_shape[CONTEXT_KEYS][-1], name="project")
        self.built = True

    def call(self, query_x, learner_output, training=None):
        codes = require(learner_output, CONTEXT_KEYS, self)
        present = require(learner_output, CONTEXT_MASK, self)
        q = query_x
        if self.encoder is not None:
            q = apply_per_example(self.encoder, q, training=training)
        p = self.project(ops.cast(q, self.compute_dtype))[:, :, None, :]  # [B, Q, 1, D]
        c = ops.cast(codes, p.dtype)[:, None, :, :]  # [B, 1, N, D]
        p, c = ops.broadcast_to(p, ops.shape(p + c)), ops.broadcast_to(c, ops.shape(p + c))
        logits = ops.squeeze(self.mlp(ops.concatenate([p, c, p * c, ops.abs(p - c)], -1)), -1)
        present = ops.cast(present, "bool")[:, None, :]
        return ops.where(present, logits, ops.cast(ABSENT_CLASS_LOGIT, logits.dtype))

    def get_config(self):
        return {**super().get_config(), "units": list(self.units),
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
