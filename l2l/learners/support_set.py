"""The labelled support set itself, for a predictor that reads it whole."""

from __future__ import annotations

from keras import ops

from l2l.errors import InvalidValueError
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, Learner
from l2l.ops import check_ways, label_features
from l2l.serialization import register


@register
class SupportSetLearner(Learner):
    """Emits the support examples as they came (raw or encoded) with their one-hot labels.

    The learner of a predictor that must run the same network on the support set and on each
    query: the Neural Statistician's statistic network encodes each class's support examples
    into `q(c | class)` and each query into `q(c | query)`, so `StatisticianPredictor` holds it
    (a layer cannot belong to both the learner and the predictor of a saved model) and this
    learner hands it the labelled set: `"context_keys"` the examples `[B, S, ...]`,
    `"context"` their one-hot labels `[B, S, ways]`, `"context_mask"` the support mask.

    Args:
        ways: classes per episode.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import SupportSetLearner
    >>> out = SupportSetLearner(ways=3)(np.ones((2, 6, 5, 5, 1)), np.array([[0, 1, 2] * 2] * 2),
    ...                                 np.ones((2, 6)))
    >>> tuple(out["context_keys"].shape), tuple(out["context"].shape)
    ((2, 6, 5, 5, 1), (2, 6, 3))
    """

    def __init__(self, ways: int, **kwargs):
        super().__init__(**kwargs)
        if ways is None:
            raise InvalidValueError("SupportSetLearner classifies: pass ways=N.")
        self.ways = check_ways(ways)

    def call(self, support_x, support_y, support_mask, training=None):
        x = ops.cast(support_x, self.compute_dtype)
        return {CONTEXT_KEYS: x, CONTEXT: label_features(support_y, self.ways, x.dtype),
                CONTEXT_MASK: ops.cast(support_mask, x.dtype)}

    def get_config(self):
        return {**super().get_config(), "ways": self.ways}
