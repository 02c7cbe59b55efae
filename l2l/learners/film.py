"""FiLM generator: a task code in, a scale and shift per predictor channel out (CNAPs)."""

from __future__ import annotations

from keras import layers, ops

from l2l.errors import InvalidValueError
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, FEATURES, WEIGHTS
from l2l.learners.pooling import PooledLearner
from l2l.ops import label_features
from l2l.serialization import register


@register
class FiLMGenerator(PooledLearner):
    """Feature-wise linear modulation of a predictor's channels, from a pooled task code.

    The task code (a `PooledLearner` code of the support set) gives, for every block `i` of a
    `FiLMPredictor`, a scale `1 + gamma_i(code)` and a shift `beta_i(code)` per channel, as
    the adaptation network of CNAPs (Requeima et al., 2019) does for its feature extractor.
    Both start at the identity (zero-initialised heads). With `ways` set, the learner also
    emits the support set as context (`"context_keys"` the support `x`, `"context"` one-hot
    labels), so that the `FiLMPredictor` can build its class head from the *adapted* support
    embeddings, as CNAPs does.

    Args:
        channels: channels (conv) or units (dense) of each `FiLMPredictor` block.
        code_dim, units, encoder, use_labels, ways: as for `PooledLearner`.

    Output: `"weights"` with `"film_scale_i"` and `"film_shift_i"` `[B, channels[i]]`, the
    task code as `"features"`, and the context keys when `ways` is set.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import FiLMGenerator
    >>> out = FiLMGenerator(channels=(4, 6), code_dim=8)(np.ones((2, 5, 3)), np.ones((2, 5)),
    ...                                                  np.ones((2, 5)))
    >>> tuple(out["weights"]["film_scale_1"].shape)
    (2, 6)
    """

    def __init__(self, channels=(32, 32), code_dim: int = 64, units=(128,), encoder=None,
                 use_labels: bool = True, ways: int | None = None, **kwargs):
        if code_dim is None:
            raise InvalidValueError("FiLMGenerator needs a code_dim (the size of its task code).")
        super().__init__(code_dim=code_dim, units=units, encoder=encoder, use_labels=use_labels,
                         ways=ways, **kwargs)
        self.channels = tuple(int(c) for c in channels)
        self.scale_heads = [layers.Dense(c, kernel_initializer="zeros", name=f"scale_{i}")
                            for i, c in enumerate(self.channels)]
        self.shift_heads = [layers.Dense(c, kernel_initializer="zeros", name=f"shift_{i}")
                            for i, c in enumerate(self.channels)]

    def call(self, support_x, support_y, support_mask, training=None):
        code = self.task_code(support_x, support_y, support_mask, training)
        weights = {}
        for i, (scale, shift) in enumerate(zip(self.scale_heads, self.shift_heads, strict=True)):
            weights[f"film_scale_{i}"] = 1.0 + scale(code)
            weights[f"film_shift_{i}"] = shift(code)
        output = {WEIGHTS: weights, FEATURES: code}
        if self.ways is not None:
            mask = ops.cast(support_mask, code.dtype)
            output.update({CONTEXT_KEYS: support_x, CONTEXT_MASK: mask,
                           CONTEXT: label_features(support_y, self.ways, code.dtype)})
        return output

    def get_config(self):
        return {**super().get_config(), "channels": list(self.channels)}
