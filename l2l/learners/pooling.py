"""Set-pooling learners: embed every support example, average into a task code (or one per
class)."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.errors import invalid_value
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, FEATURES, Learner
from l2l.ops import apply_per_example, check_ways, class_means, label_features, masked_mean
from l2l.serialization import deserialize_layers, register, serialize_layers

POOLS = ("set", "classes")


@register
class PooledLearner(Learner):
    """Task code = masked mean over the support set of an MLP of each `(x, y)` pair.

    This is the set encoder of Conditional Neural Processes and, with one shared image
    encoder, the "features" learner of the two-digit task. It is permutation invariant and
    handles any number of shots through the mask.

    With `pool="classes"` (N-way classification) it pools per class instead: one code per
    class, the masked mean of the MLP of that class's examples, as context entries keyed by
    the codes (`CONTEXT_KEYS [B, N, D]`, `CONTEXT` the one-hot class of each entry, entry `c`
    being class `c`; `CONTEXT_MASK` marks classes that have examples), for
    `ClassCodePredictor`. One code
    for the whole set must bind each image to its label inside an average, which a short run
    does not learn: the `pooled` classifier stayed at chance (20%) on 5-way 1-shot MNIST and
    Omniglot with `pool="set"` (`benchmarks/results/few_shot.json` before this option).

    Args:
        code_dim: size of the task code; `None` pools the (encoded) examples themselves, which
            makes the code a prototype in the query embedding's space.
        units: hidden layer sizes of the per-example MLP (unused when `code_dim` is None).
        encoder: optional layer applied to each support `x` first (e.g. a conv net), for
            learners that do not share the `MetaModel` encoder.
        use_labels: feed `support_y` to the MLP beside `x` (off when every label is the same).
        ways: for N-way classification, the number of classes: integer `support_y` is one-hot
            encoded to `ways` columns. `None` (regression, binary) uses `support_y` as numbers.
        pool: `"set"` (one task code, `FEATURES`) or `"classes"` (one code per class, which
            needs `ways`; labels group the examples instead of entering the MLP).

    Example:

    >>> import numpy as np
    >>> from l2l.learners import PooledLearner
    >>> out = PooledLearner(code_dim=8)(np.ones((2, 5, 3)), np.ones((2, 5)), np.ones((2, 5)))
    >>> tuple(out["features"].shape)
    (2, 8)
    >>> classes = PooledLearner(code_dim=8, ways=5)  # 5-way: labels are indices 0..4
    >>> tuple(classes(np.ones((2, 5, 3)), np.arange(10).reshape(2, 5) % 5,
    ...               np.ones((2, 5)))["features"].shape)
    (2, 8)
    """

    def __init__(self, code_dim: int | None = 64, units=(128,), encoder=None,
                 use_labels: bool = True, ways: int | None = None, pool: str = "set",
                 **kwargs):
        super().__init__(**kwargs)
        self.code_dim, self.units, self.use_labels = code_dim, tuple(units), use_labels
        self.ways = check_ways(ways)
        if pool not in POOLS or (pool == "classes" and self.ways is None):
            raise invalid_value("pool", pool, f"one of {POOLS} ('classes' with ways=N)",
                                "pool per class only for N-way classification (give ways=)")
        self.pool = pool
        self.encoder = encoder
        self.mlp = None if code_dim is None else keras.Sequential(
            [layers.Dense(u, activation="relu") for u in self.units] + [layers.Dense(code_dim)],
            name="example_mlp",
        )

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        # Sub-layers build on first call, once the encoder's output size is known.
        self.built = True

    def task_code(self, support_x, support_y, support_mask, training=None):
        """The task code `[B, D]`: the masked mean over the support set of each embedded
        example (with its label features); `call` returns it as `FEATURES`."""
        return masked_mean(self._embedded(support_x, support_y, training), support_mask)

    def class_codes(self, support_x, support_y, support_mask, training=None):
        """`(codes [B, N, D], present [B, N])`: per class, the masked mean of its embedded
        examples, and 1.0 where the class has examples (`pool="classes"`)."""
        x = self._embedded(support_x, support_y, training)
        codes, counts = class_means(x, label_features(support_y, self.ways, x.dtype),
                                    support_mask)
        return codes, ops.cast(counts > 0, x.dtype)

    def call(self, support_x, support_y, support_mask, training=None):
        if self.pool == "classes":
            codes, present = self.class_codes(support_x, support_y, support_mask, training)
            labels = ops.broadcast_to(ops.eye(self.ways, dtype=codes.dtype),
                                      (ops.shape(codes)[0], self.ways, self.ways))
            return {CONTEXT_KEYS: codes, CONTEXT: labels, CONTEXT_MASK: present}
        return {FEATURES: self.task_code(support_x, support_y, support_mask, training)}

    def _embedded(self, support_x, support_y, training):
        """`[B, S, D]`: each support example through the encoder and the MLP (with its label
        features when pooling the whole set)."""
        x = support_x
        if self.encoder is not None:
            x = apply_per_example(self.encoder, x, training=training)
        x = ops.cast(x, self.compute_dtype)
        if self.use_labels and self.pool == "set":
            x = ops.concatenate([x, label_features(support_y, self.ways, x.dtype)], axis=-1)
        if self.mlp is not None:
            x = apply_per_example(self.mlp, x, training=training)
        return x

    def get_config(self):
        return {**super().get_config(), "code_dim": self.code_dim, "units": list(self.units),
                "use_labels": self.use_labels, "ways": self.ways, "pool": self.pool,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
