"""Attention learner: self-attention over the support set (Set Transformer, attentive NPs)."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.layers import AttentionBlock
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, FEATURES, Learner
from l2l.ops import (
    apply_per_example,
    check_ways,
    encoded_vectors,
    label_features,
    masked_mean,
)
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class AttentionLearner(Learner):
    """Every support pair `(x, y)` is embedded, then refined by masked self-attention.

    Each example's representation sees the whole support set (`blocks` Set-Transformer
    attention blocks; padded examples are never attended to), so the learner can model how
    examples relate, not only their average. It emits the per-example representations as the
    context of an `AttentivePredictor`, which attends to them from each query (the
    deterministic path of attentive neural processes, Kim et al., 2019), and their masked mean
    as the task code. Permutation equivariant per example, invariant in its outputs.

    Args:
        dim: size of the per-example representations.
        blocks: self-attention blocks (0 gives a CNP-like per-example MLP).
        heads: attention heads per block.
        units: hidden layer sizes of the MLP that embeds each `(x, y)` pair.
        encoder: optional layer applied to each support `x` first (e.g. a conv net).
        ways: classes per episode for N-way classification (labels are one-hot encoded);
            `None` for regression.

    Output: `"context" [B, S, dim + label size]` (each representation with the example's own
    label features beside it, so a query that attends to an example reads its label directly),
    `"context_keys"` (the support `x` as received), `"context_mask" [B, S]`, and
    `"features" [B, dim]`, the masked mean of the representations.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import AttentionLearner
    >>> out = AttentionLearner(dim=8, heads=2)(np.ones((2, 5, 3)), np.ones((2, 5, 1)),
    ...                                        np.ones((2, 5)))
    >>> tuple(out["context"].shape), tuple(out["features"].shape)
    ((2, 5, 9), (2, 8))
    """

    def __init__(self, dim: int = 64, blocks: int = 2, heads: int = 4, units=(128,),
                 encoder=None, ways: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.blocks, self.heads, self.units = dim, blocks, heads, tuple(units)
        self.encoder, self.ways = encoder, check_ways(ways)
        self.pair_mlp = keras.Sequential(
            [layers.Dense(u, activation="relu") for u in self.units] + [layers.Dense(dim)],
            name="pair_mlp")
        self.attention = [AttentionBlock(dim, heads, name=f"self_attention_{i}")
                          for i in range(blocks)]

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        self.built = True  # sub-layers build on first call, once the encoder's output is known

    def call(self, support_x, support_y, support_mask, training=None):
        x = encoded_vectors(self.encoder, support_x, self, self.compute_dtype, training)
        labels = label_features(support_y, self.ways, x.dtype)
        h = apply_per_example(self.pair_mlp, ops.concatenate([x, labels], axis=-1),
                              training=training)
        mask = ops.cast(support_mask, h.dtype)
        for block in self.attention:
            h = block(h, h, mask, training=training)
        return {CONTEXT: ops.concatenate([h, labels], axis=-1), CONTEXT_KEYS: support_x,
                CONTEXT_MASK: mask, FEATURES: masked_mean(h, mask)}

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "blocks": self.blocks,
                "heads": self.heads, "units": list(self.units), "ways": self.ways,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
