"""Matching Networks' predictor: cosine attention over the support labels."""

from __future__ import annotations

import math

import keras
from keras import ops

from l2l.errors import InvalidValueError
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK
from l2l.ops import key_mask
from l2l.predictors.base import Predictor, require
from l2l.serialization import register

# Floor of a class probability before the log: absent classes get log(_FLOOR) ~ -27.6.
_FLOOR = 1e-12


@register
class MatchingPredictor(Predictor):
    """`P(y = c | q) = sum_s a(q, x_s) [y_s = c]`, `a` a softmax over cosine similarities.

    Attention runs over the real support examples only (padding is masked out) and reads their
    one-hot labels, the learner's `"context"`; the output is the log-probabilities
    `[B, Q, ways]`, usable as logits (softmax gives the probabilities back). Pair it with
    `MatchingLearner`.

    Args:
        scale: the cosine similarities are multiplied by this before the softmax (the paper
            uses 1; a larger value sharpens attention).
        trainable_scale: learn the scale (as its logarithm) with the rest of the model.

    Example:

    >>> import numpy as np
    >>> from l2l.predictors import MatchingPredictor
    >>> out = {"context_keys": np.array([[[1.0, 0.0], [0.0, 1.0]]]),
    ...        "context": np.array([[[1.0, 0.0], [0.0, 1.0]]]),
    ...        "context_mask": np.ones((1, 2))}
    >>> logp = MatchingPredictor()(np.array([[[2.0, 0.1], [0.0, 3.0]]]), out)
    >>> logp.numpy().argmax(-1).tolist()
    [[0, 1]]
    """

    def __init__(self, scale: float = 10.0, trainable_scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not scale > 0:
            raise InvalidValueError(f"scale must be positive, got {scale}.")
        self.scale, self.trainable_scale = float(scale), trainable_scale

    def build(self, query_x_shape, learner_output_shape=None):
        self.log_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(math.log(self.scale)),
            trainable=self.trainable_scale, name="log_scale")
        self.built = True

    def call(self, query_x, learner_output, training=None):
        labels = require(learner_output, CONTEXT, self)
        keys, mask = learner_output[CONTEXT_KEYS], learner_output[CONTEXT_MASK]
        if len(query_x.shape) != 3 or query_x.shape[-1] != keys.shape[-1]:
            raise InvalidValueError(
                f"MatchingPredictor compares query embeddings {tuple(query_x.shape)} with "
                f"support embeddings {tuple(keys.shape)}: both must be [B, n, D] with the same "
                "D (give the MetaModel an encoder).")
        q = _unit(ops.cast(query_x, self.compute_dtype))
        k = _unit(ops.cast(keys, self.compute_dtype))
        scores = ops.exp(self.log_scale) * ops.einsum("bqd,bsd->bqs", q, k)
        attention = ops.softmax(ops.where(key_mask(mask, ops.shape(q)[1]), scores, -1e9), axis=-1)
        probabilities = ops.einsum("bqs,bsn->bqn", attention, ops.cast(labels, q.dtype))
        return ops.log(ops.maximum(probabilities, _FLOOR))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale,
                "trainable_scale": self.trainable_scale}


def _unit(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))
