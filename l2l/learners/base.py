"""The learner contract: a support set in, features and/or weights out.

A learner is a Keras layer called as

    learner(support_x, support_y, support_mask, training=...) -> LearnerOutput

with `support_x [B, S, ...]` (raw examples, or their embeddings when the `MetaModel` has a
shared encoder), `support_y [B, S]` or `[B, S, D]` and `support_mask [B, S]` (1.0 for real
examples, 0.0 for padding). It returns a dict, the `LearnerOutput`, holding either or both of

- `"features"`: a task code `[B, D]` that the predictor conditions on;
- `"weights"`: a dict of per-episode tensors (`"kernel_0" [B, in, out]`, `"bias_0" [B, out]`,
  ...) that the predictor uses as its own weights.

A learner must treat masked examples as absent and should not depend on the order of the
support examples unless it is meant to (a sequence learner).
"""

from __future__ import annotations

import keras

FEATURES = "features"
WEIGHTS = "weights"


class Learner(keras.layers.Layer):
    """Base class of learners. Subclasses implement `call` (and `get_config` for new args).

    Example:

    >>> import keras, numpy as np
    >>> from l2l.learners import Learner
    >>> from l2l.ops import masked_mean
    >>> class MeanLearner(Learner):
    ...     def call(self, support_x, support_y, support_mask, training=None):
    ...         return {"features": masked_mean(support_x, support_mask)}
    >>> out = MeanLearner()(np.ones((2, 3, 4)), np.ones((2, 3)), np.ones((2, 3)))
    >>> tuple(out["features"].shape)
    (2, 4)
    """

    def call(self, support_x, support_y, support_mask, training=None) -> dict:
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(support_x, support_y, support_mask, "
            "training=None) and return a dict with 'features' and/or 'weights'."
        )
