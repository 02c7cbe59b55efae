"""Matching Networks' learner: the labelled support set as an attention memory."""

from __future__ import annotations

from keras import ops

from l2l.errors import InvalidValueError
from l2l.layers import AttentionBlock
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, FEATURES, Learner
from l2l.ops import check_ways, label_features, masked_mean
from l2l.serialization import register


@register
class MatchingLearner(Learner):
    """Emits the support embeddings as keys and their one-hot labels as values.

    Matching Networks (Vinyals et al., 2016) classify a query by attending over the support
    set and summing the labels, weighted by attention: the learner's part is the memory, the
    `MatchingPredictor`'s part the cosine attention. With `context_blocks > 0` each support
    embedding is first refined by masked self-attention over the whole support set, a
    permutation-invariant form of the paper's full-context embedding `g` (the paper uses a
    bidirectional LSTM, which depends on the order of the support set). Needs a shared
    `MetaModel` encoder: keys and queries must be embedded by the same network.

    Args:
        ways: classes per episode.
        context_blocks: self-attention blocks refining the support embeddings.
        heads: attention heads per block.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import MatchingLearner
    >>> out = MatchingLearner(ways=3)(np.ones((2, 6, 4)), np.array([[0, 1, 2] * 2] * 2),
    ...                               np.ones((2, 6)))
    >>> tuple(out["context"].shape), tuple(out["context_keys"].shape)
    ((2, 6, 3), (2, 6, 4))
    """

    def __init__(self, ways: int, context_blocks: int = 0, heads: int = 4, **kwargs):
        super().__init__(**kwargs)
        if ways is None:
            raise InvalidValueError("MatchingLearner classifies: pass ways=N.")
        self.ways, self.context_blocks, self.heads = check_ways(ways), context_blocks, heads

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        if len(support_x_shape) != 3:
            raise InvalidValueError(
                f"MatchingLearner needs support embeddings [B, S, D], got {support_x_shape}: "
                "give the MetaModel an encoder (the same one must embed the queries).")
        dim = support_x_shape[-1]
        self.attention = [AttentionBlock(dim, self.heads, name=f"full_context_{i}")
                          for i in range(self.context_blocks)]
        for block in self.attention:
            block.build(support_x_shape, support_x_shape)
        self.built = True

    def call(self, support_x, support_y, support_mask, training=None):
        x = ops.cast(support_x, self.compute_dtype)
        mask = ops.cast(support_mask, x.dtype)
        for block in self.attention:
            x = block(x, x, mask, training=training)
        return {CONTEXT_KEYS: x, CONTEXT: label_features(support_y, self.ways, x.dtype),
                CONTEXT_MASK: mask, FEATURES: masked_mean(x, mask)}

    def get_config(self):
        return {**super().get_config(), "ways": self.ways,
                "context_blocks": self.context_blocks, "heads": self.heads}
