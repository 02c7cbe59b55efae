"""Learners run causally over a sequence: the attention learner and prototypes, online.

For the online classification protocol (`l2l.tasks.online`, `l2l.online`), a learner gives
`online_features(support_x, support_y, support_mask) -> [B, T, D]` in which step `t` depends
on `x_<=t` and `y_<t` only. Two set learners made causal:

- `CausalAttentionLearner`: the `AttentionLearner` with causal masks. Each step's pair
  `(x_s, y_s)` is embedded and refined by self-attention over the pairs up to `s`; the
  example `x_t` then attends to the pairs strictly before `t` (and to a learned null pair,
  so the first step has something to read). Features: `[query embedding, what it read]`.
- `OnlinePrototypeLearner`: `PrototypeHeadGenerator` (Prototypical Networks) online: at step
  `t`, each class's prototype is the mean embedding of its examples before `t`; the logit is
  minus the squared distance to it, and a class not seen yet gets one learned logit (so the
  model can learn to guess an unseen class for an example far from every prototype). Its
  features are these logits (`emits_logits = True`).

Example:

>>> import numpy as np
>>> from l2l.learners import CausalAttentionLearner, OnlinePrototypeLearner
>>> x, y = np.ones((2, 5, 3), "float32"), np.array([[0, 1, 0, 2, 1]] * 2)
>>> tuple(CausalAttentionLearner(dim=8, heads=2, ways=3).online_features(
...     x, y, np.ones((2, 5))).shape)
(2, 5, 16)
>>> x = np.array([[[0.0], [1.0], [3.0], [0.0], [0.0]]])
>>> logits = OnlinePrototypeLearner(ways=3).online_features(x, y[:1], np.ones((1, 5)))
>>> logits.numpy()[0, 2].tolist()  # step 2 (x = 3): class 0 at 0, class 1 at 1, 2 unseen
[-9.0, -4.0, 0.0]
"""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.layers import AttentionBlock
from l2l.learners.attention import AttentionLearner
from l2l.learners.heads import PrototypeHeadGenerator
from l2l.ops import apply_per_example, encoded_vectors, label_features
from l2l.serialization import register


def causal_mask(mask, strict: bool):
    """`[B, T, T]` bool: step `t` may see step `s` if `s <= t` (`s < t` when `strict`) and
    `mask[:, s]` is set."""
    steps = ops.shape(mask)[1]
    rows, cols = ops.arange(steps)[:, None], ops.arange(steps)[None, :]
    order = cols < rows if strict else cols <= rows
    return ops.logical_and(order[None], ops.cast(mask, "bool")[:, None, :])


@register
class CausalAttentionLearner(AttentionLearner):
    """`AttentionLearner` whose self-attention is causal, plus a causal read for each step.

    Same arguments as `AttentionLearner`; as a plain learner (support/query) it is one.
    `online_features` returns `[B, T, 2 * dim]` (see the module docstring).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.query_mlp = keras.Sequential([layers.Dense(self.dim, activation="relu"),
                                           layers.Dense(self.dim)], name="query_mlp")
        self.read = AttentionBlock(self.dim, self.heads, name="causal_read")

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        self.null = self.add_weight(shape=(2, self.dim), initializer="zeros", name="null_pair")
        super().build(support_x_shape, support_y_shape, support_mask_shape)

    def online_features(self, support_x, support_y, support_mask, training=None):
        """`[B, T, 2 * dim]`: step `t` from `x_<=t` and `y_<t`."""
        if not self.built:
            self.build(support_x.shape)
        x = encoded_vectors(self.encoder, support_x, self, self.compute_dtype, training)
        labels = label_features(support_y, self.ways, x.dtype)
        pairs = apply_per_example(self.pair_mlp, ops.concatenate([x, labels], axis=-1),
                                  training=training)
        for block in self.attention:
            pairs = block(pairs, pairs, causal_mask(support_mask, strict=False),
                          training=training)
        queries = apply_per_example(self.query_mlp, x, training=training)
        batch = ops.shape(x)[0]
        null = ops.broadcast_to(ops.cast(self.null, x.dtype)[:, None, None, :],
                                (2, batch, 1, self.dim))
        keys = ops.concatenate([null[0], queries], axis=1)
        values = ops.concatenate([null[1], pairs], axis=1)
        before = causal_mask(support_mask, strict=True)
        visible = ops.concatenate([ops.ones_like(before[..., :1]), before], axis=-1)
        read = self.read(queries, values, visible, keys=keys, training=training)
        return ops.concatenate([queries, read], axis=-1)


@register
class OnlinePrototypeLearner(PrototypeHeadGenerator):
    """Prototypical Networks run online; a `PrototypeHeadGenerator` on support/query episodes.

    `online_features` returns class logits `[B, T, ways]` (see the module docstring). Needs
    example embeddings `[B, T, D]` (an encoder in the model).
    """

    emits_logits = True

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        self.unseen_logit = self.add_weight(shape=(), initializer="zeros", name="unseen_logit")
        self.built = True

    def online_features(self, support_x, support_y, support_mask, training=None):
        """`[B, T, ways]` logits: step `t` against the prototypes of the steps before it."""
        if not self.built:
            self.build(support_x.shape)
        x = ops.cast(support_x, self.compute_dtype)
        onehot = label_features(support_y, self.ways, x.dtype) * ops.cast(
            support_mask, x.dtype)[..., None]
        # Exclusive running sums: everything before step t, not t itself.
        sums = ops.cumsum(onehot[..., None] * x[:, :, None, :], axis=1) - (
            onehot[..., None] * x[:, :, None, :])
        counts = ops.cumsum(onehot, axis=1) - onehot  # [B, T, ways]
        prototypes = sums / ops.maximum(counts, 1.0)[..., None]
        distance = ops.sum(ops.square(x[:, :, None, :] - prototypes), axis=-1)
        unseen = ops.cast(self.unseen_logit, x.dtype) * ops.ones_like(distance)
        return ops.where(counts > 0, -distance, unseen)
