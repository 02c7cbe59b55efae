"""Layers shared by several learners and predictors."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.ops import key_mask
from l2l.serialization import register


@register
class AttentionBlock(keras.layers.Layer):
    """Masked multi-head attention block of the Set Transformer (Lee et al., 2019).

    `h = LayerNorm(q + MultiHeadAttention(q, keys, values))`,
    `out = LayerNorm(h + MLP(h))`, where padded examples (`mask` 0) are never attended to.
    With `queries = values` it is self-attention over a set (permutation equivariant), with
    queries from elsewhere it is cross-attention (the deterministic path of attentive neural
    processes).

    Args:
        dim: size of the queries, values and output.
        heads: attention heads.
        hidden: hidden size of the MLP (default `2 * dim`).

    Call: `block(queries [B, T, dim], values [B, S, dim], mask [B, S], keys=None)`, with
    `keys [B, S, K]` defaulting to `values`. A mask `[B, T, S]` says per query which values
    it may attend to (a causal mask, say).

    Example:

    >>> import numpy as np
    >>> from l2l.layers import AttentionBlock
    >>> x = np.random.default_rng(0).normal(size=(2, 4, 8)).astype("float32")
    >>> tuple(AttentionBlock(8)(x, x, np.ones((2, 4))).shape)
    (2, 4, 8)
    """

    def __init__(self, dim: int, heads: int = 4, hidden: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.hidden = dim, heads, hidden
        self.attention = layers.MultiHeadAttention(heads, key_dim=max(dim // heads, 1),
                                                   output_shape=dim, name="attention")
        self.mlp = keras.Sequential([layers.Dense(hidden or 2 * dim, activation="relu"),
                                     layers.Dense(dim)], name="mlp")
        self.norm_1 = layers.LayerNormalization(name="norm_1")
        self.norm_2 = layers.LayerNormalization(name="norm_2")

    def build(self, queries_shape, values_shape=None, mask_shape=None, keys_shape=None):
        values_shape = values_shape or queries_shape
        self.attention.build(queries_shape, values_shape, keys_shape or values_shape)
        self.norm_1.build(queries_shape)
        self.mlp.build(queries_shape)
        self.norm_2.build(queries_shape)
        self.built = True

    def call(self, queries, values, mask, keys=None, training=None):
        allowed = mask if len(mask.shape) == 3 else key_mask(mask, ops.shape(queries)[1])
        attended = self.attention(queries, values, key=keys, attention_mask=ops.cast(
            allowed, "bool"), training=training)
        h = self.norm_1(queries + attended)
        return self.norm_2(h + self.mlp(h, training=training))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads,
                "hidden": self.hidden}
