"""Nearest-key predictor and memory loss of Kaiser et al. (2017)'s memory module.

`NearestKeyPredictor` scores each class by the cosine similarity of the query with the
nearest memory key holding that class: `logit_c = max_{i: V_i = c} cos(q, K_i)`, so the
argmax is the value of the nearest key, the memory module's answer. Classes with no key get
`l2l.ops.ABSENT_CLASS_LOGIT`. `MemoryLoss` is the paper's memory loss on these scores,
`max(0, s_neg - s_pos + margin)`: `s_pos` the similarity of the nearest key with the right
label, `s_neg` that of the nearest key with a wrong one. Pair them with
`l2l.learners.KeyValueMemory`.

Example:

>>> import numpy as np
>>> from l2l.predictors import NearestKeyPredictor
>>> from l2l.predictors.nearest_key import MemoryLoss
>>> memory = {"context_keys": np.array([[[1.0, 0.0], [0.0, 1.0]]]),
...           "context": np.array([[[1.0, 0.0], [0.0, 1.0]]]), "context_mask": np.ones((1, 2))}
>>> scores = NearestKeyPredictor()(np.array([[[2.0, 0.0], [1.0, 1.0]]]), memory)
>>> [[round(float(v), 3) for v in q] for q in scores.numpy()[0]]
[[1.0, 0.0], [0.707, 0.707]]
>>> round(float(MemoryLoss(margin=0.1)(np.array([[0, 1]]), scores)), 3)  # 0 and 0.1, mean
0.05
"""

from __future__ import annotations

import keras
from keras import ops

from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK
from l2l.learners.key_value import unit
from l2l.ops import ABSENT_CLASS_LOGIT
from l2l.predictors.base import Predictor, require
from l2l.serialization import register


@register
class NearestKeyPredictor(Predictor):
    """`[B, Q, ways]`: per class, the query's cosine similarity with its nearest key."""

    def call(self, query_x, learner_output, training=None):
        values = require(learner_output, CONTEXT, self)
        keys, used = learner_output[CONTEXT_KEYS], learner_output[CONTEXT_MASK]
        if len(query_x.shape) != 3 or query_x.shape[-1] != keys.shape[-1]:
            raise ValueError(f"{type(self).__name__} needs query embeddings of the keys' size "
                             f"{tuple(keys.shape)}, got {tuple(query_x.shape)} (give the "
                             "MetaModel an encoder).")
        q = unit(ops.cast(query_x, self.compute_dtype))
        similarity = ops.einsum("bqd,bmd->bqm", q, unit(ops.cast(keys, q.dtype)))
        holds = ops.cast(values, q.dtype) * ops.cast(used, q.dtype)[..., None]  # [B, M, ways]
        # Per class, the best similarity among the slots holding it (-3: none, below -1).
        per_class = ops.where(holds[:, None] > 0, similarity[..., None], -3.0)
        best = ops.max(per_class, axis=2)  # [B, Q, ways]
        return ops.where(best > -2.0, best, ops.cast(ABSENT_CLASS_LOGIT, best.dtype))


@register
class MemoryLoss(keras.losses.Loss):
    """Kaiser et al.'s memory loss on `NearestKeyPredictor` scores (see the module docstring).

    Args:
        margin: the margin `alpha` (the paper: 0.1).
    """

    def __init__(self, margin: float = 0.1, name: str = "memory_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        ways = y_pred.shape[-1]
        right = ops.one_hot(ops.cast(y_true, "int32"), ways, dtype=y_pred.dtype)
        positive = ops.sum(right * y_pred, axis=-1)
        negative = ops.max(ops.where(right > 0, ABSENT_CLASS_LOGIT, y_pred), axis=-1)
        return ops.relu(negative - positive + self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}
