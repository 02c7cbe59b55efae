"""The memory module of Kaiser et al. (2017), "Learning to Remember Rare Events", as a learner.

A key-value memory: keys are unit-length embeddings, values are class labels, and a query is
answered by its nearest keys (cosine similarity). For N-way K-shot classification the memory
is emptied at the start of each episode and the support examples are written in order with
the paper's update rule:

- if the nearest key already holds the example's label, that key moves towards the example,
  `K[n1] <- normalize(K[n1] + q)` (its age reset to 0);
- otherwise the example is written to the oldest slot (an empty one first), `K = q`,
  `V = label`, age 0; every other slot ages by one.

So a class whose shots look alike ends up as one averaged key, one with distinct variants as
several. The memory size defaults to the support size (one slot per example), so no slot is
ever overwritten within an episode; a smaller memory forgets the oldest entries as in the
paper. Masked (padded) examples write nothing. The learner emits the memory as context:
`"context_keys" [B, M, D]` (unit keys), `"context" [B, M, ways]` (one-hot values) and
`"context_mask" [B, M]` (used slots), read by `l2l.predictors.NearestKeyPredictor`, and the
mean of the used keys as `"features"`. Gradients flow into the written keys too (the paper
stores keys without gradient; in episodes built from the support set, letting them flow
trains the shared encoder from both sides).

Example:

>>> import numpy as np
>>> from l2l.learners import KeyValueMemory
>>> x = np.array([[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]])   # two shots of class 0, one of 1
>>> out = KeyValueMemory(ways=2)(x, np.array([[0, 0, 1]]), np.ones((1, 3)))
>>> out["context_mask"].numpy().tolist()   # the second shot merged into the first key
[[1.0, 1.0, 0.0]]
>>> out["context"].numpy()[0, :2].argmax(-1).tolist()
[0, 1]
"""

from __future__ import annotations

from keras import ops

from l2l.errors import invalid_value
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, FEATURES, Learner
from l2l.ops import check_ways, label_features, masked_mean
from l2l.serialization import register

_NEVER = 1e9  # the age of an empty slot: older than any written one


def unit(x, axis: int = -1):
    """`x` scaled to unit length along `axis` (zero vectors stay zero)."""
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))


@register
class KeyValueMemory(Learner):
    """Kaiser et al.'s memory module, filled from the support set (see the module docstring).

    Args:
        ways: classes per episode.
        memory_size: slots; `None` gives one per support example.

    Needs example embeddings `[B, S, D]` (a `MetaModel` encoder shared with the queries).
    """

    order_invariant = False  # the support set is written in order: later shots merge keys

    def __init__(self, ways: int, memory_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if ways is None:
            raise invalid_value("ways", ways, "an integer >= 2", "KeyValueMemory classifies: "
                                "pass ways=N")
        self.ways, self.memory_size = check_ways(ways), memory_size
        if memory_size is not None and memory_size < 1:
            raise invalid_value("memory_size", memory_size, "an integer >= 1, or None (one "
                                "slot per support example)")

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        if len(support_x_shape) != 3:
            raise invalid_value("support_x", support_x_shape, "support embeddings [B, S, D]",
                                "give the MetaModel an encoder (the same one must embed the "
                                "queries)")
        self.built = True

    def call(self, support_x, support_y, support_mask, training=None):
        q = unit(ops.cast(support_x, self.compute_dtype))
        labels = label_features(support_y, self.ways, q.dtype)
        mask = ops.cast(support_mask, q.dtype)
        steps, slots = q.shape[1], self.memory_size or q.shape[1]
        keys = ops.zeros_like(q[:, :1, :]) * ops.zeros((1, slots, 1), q.dtype)  # [B, M, D]
        values = ops.zeros_like(labels[:, :1, :]) * ops.zeros((1, slots, 1), q.dtype)
        used = ops.zeros_like(keys[..., 0])  # [B, M]
        age = used + _NEVER

        def step(s, memory):  # one traced loop body, not `steps` unrolled copies
            return write(*memory, ops.take(q, s, axis=1), ops.take(labels, s, axis=1),
                         ops.take(mask, s, axis=1))

        keys, values, used, age = ops.fori_loop(0, steps, step, (keys, values, used, age))
        return {CONTEXT_KEYS: keys, CONTEXT: values, CONTEXT_MASK: used,
                FEATURES: masked_mean(keys, used)}

    def get_config(self):
        return {**super().get_config(), "ways": self.ways, "memory_size": self.memory_size}


def write(keys, values, used, age, key, value, real):
    """One step of Kaiser et al.'s memory update, batched.

    `keys [B, M, D]` (unit), `values [B, M, ways]` (one-hot), `used [B, M]`, `age [B, M]`;
    `key [B, D]` (unit), `value [B, ways]`, `real [B]` (0: write nothing). Returns the
    updated `(keys, values, used, age)`.
    """
    similarity = ops.where(used > 0, ops.einsum("bmd,bd->bm", keys, key), -2.0)
    nearest = ops.one_hot(ops.argmax(similarity, axis=-1), keys.shape[1], dtype=keys.dtype)
    hit = ops.sum(nearest * used * ops.einsum("bmc,bc->bm", values, value), axis=-1)  # [B]
    oldest = ops.one_hot(ops.argmax(age, axis=-1), keys.shape[1], dtype=keys.dtype)
    merge = (hit * real)[:, None] * nearest  # [B, M]: the slot averaged with the key
    fresh = ((1.0 - hit) * real)[:, None] * oldest  # [B, M]: the slot overwritten
    merged = unit(keys + key[:, None, :])
    keys = (merge[..., None] * merged + fresh[..., None] * key[:, None, :]
            + (1.0 - merge - fresh)[..., None] * keys)
    values = fresh[..., None] * value[:, None, :] + (1.0 - fresh[..., None]) * values
    used = ops.maximum(used, fresh)
    touched = merge + fresh
    age = ops.where(touched > 0, 0.0, age + real[:, None])
    return keys, values, used, age
