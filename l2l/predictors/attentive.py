"""Attentive predictor: each query attends to the learner's per-example context."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.errors import InvalidValueError
from l2l.layers import AttentionBlock
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, FEATURES
from l2l.ops import apply_per_example
from l2l.predictors.base import Predictor, require
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class AttentivePredictor(Predictor):
    """Cross-attention from each query to the support set, then an MLP decoder.

    Queries and `"context_keys"` go through the same key network (an MLP, after the optional
    `encoder`), so a query attends most to the support examples that resemble it; the values
    read are the learner's `"context"`, and padded examples (`"context_mask"` 0) are never read.
    The decoder sees the query, what it read, and the task code `"features"` when the learner
    emits one. This is the deterministic path of attentive neural processes (Kim et al., 2019).
    Pair it with `AttentionLearner`.

    Args:
        dim: size of the key space and of what each query reads.
        units: hidden layer sizes of the decoder MLP.
        output_units: outputs per query (1 gives `[B, Q]`; `ways` gives class logits).
        heads: attention heads.
        encoder: optional layer applied to queries and context keys first.

    Example:

    >>> import numpy as np
    >>> from l2l.predictors import AttentivePredictor
    >>> out = {"context": np.ones((2, 5, 8)), "context_keys": np.ones((2, 5, 3)),
    ...        "context_mask": np.ones((2, 5)), "features": np.ones((2, 8))}
    >>> tuple(AttentivePredictor(dim=8, heads=2)(np.ones((2, 7, 3)), out).shape)
    (2, 7)
    """

    def __init__(self, dim: int = 64, units=(128,), output_units: int = 1, heads: int = 4,
                 encoder=None, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.units, self.output_units, self.heads = dim, tuple(units), output_units, heads
        self.encoder = encoder
        self.key_mlp = keras.Sequential([layers.Dense(dim, activation="relu"), layers.Dense(dim)],
                                        name="key_mlp")
        self.cross_attention = AttentionBlock(dim, heads, name="cross_attention")
        self.decoder = keras.Sequential(
            [layers.Dense(u, activation="relu") for u in self.units]
            + [layers.Dense(output_units)], name="decoder")

    def build(self, query_x_shape, learner_output_shape=None):
        self.built = True  # sub-layers build on first call, once the encoder's output is known

    def call(self, query_x, learner_output, training=None):
        context = require(learner_output, CONTEXT, self)
        keys, mask = learner_output[CONTEXT_KEYS], learner_output[CONTEXT_MASK]
        q, k = query_x, keys
        if self.encoder is not None:
            num_queries = query_x.shape[1] or ops.shape(query_x)[1]
            both = apply_per_example(
                self.encoder, ops.concatenate([ops.cast(q, "float32"), ops.cast(k, "float32")],
                                              axis=1), training=training)
            q, k = both[:, :num_queries], both[:, num_queries:]
        if len(q.shape) != 3:
            raise InvalidValueError(f"{type(self).__name__} needs vector queries [B, Q, D], got "
                             f"{tuple(q.shape)}: pass encoder= (or give the MetaModel one).")
        q, k = ops.cast(q, self.compute_dtype), ops.cast(k, self.compute_dtype)
        q_key = apply_per_example(self.key_mlp, q, training=training)
        k_key = apply_per_example(self.key_mlp, k, training=training)
        read = self.cross_attention(q_key, ops.cast(context, q.dtype), mask, keys=k_key,
                                    training=training)
        h = [q, read]
        if FEATURES in learner_output:
            code = learner_output[FEATURES]
            h.append(ops.broadcast_to(ops.expand_dims(code, 1),
                                      (ops.shape(q)[0], ops.shape(q)[1], code.shape[-1])))
        y = apply_per_example(self.decoder, ops.concatenate(h, axis=-1), training=training)
        return ops.squeeze(y, -1) if self.output_units == 1 else y

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "units": list(self.units),
                "output_units": self.output_units, "heads": self.heads,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
