"""Predictors conditioned on the learner's task code."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.errors import invalid_value
from l2l.learners.base import FEATURES
from l2l.ops import apply_per_example
from l2l.predictors.base import Predictor, require
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class ConditionedPredictor(Predictor):
    """An MLP on each query embedding together with the task code.

    With `interaction=True` the MLP sees `[q, c, q * c, |q - c|]`, which lets it compare query
    and task directly (the query is first projected to the code's size when the sizes differ;
    a prototype code from `PooledLearner(code_dim=None)` is compared as it is); with
    `interaction=False` it sees the plain concatenation `[q, c]` (the original l2l design).
    With `compare_only=True` it sees only `[p * c, |p - c|]` (`p` the projected query): a
    siamese head (Koch et al. 2015), symmetric in query and code and without either
    embedding itself, so it cannot learn rules about the particular classes seen in
    training, only whether two embeddings match.

    Args:
        units: hidden layer sizes of the MLP.
        output_units: outputs per query; 1 gives predictions of shape `[B, Q]`.
        encoder: optional layer applied to each query `x` first.
        interaction: add the comparison features described above.
        compare_only: keep only the comparison features (needs `interaction=True`).

    Example:

    >>> import numpy as np
    >>> from l2l.predictors import ConditionedPredictor
    >>> pred = ConditionedPredictor(units=(16,))
    >>> tuple(pred(np.ones((2, 7, 5)), {"features": np.ones((2, 4))}).shape)
    (2, 7)
    """

    def __init__(self, units=(128,), output_units: int = 1, encoder=None,
                 interaction: bool = True, compare_only: bool = False, **kwargs):
        super().__init__(**kwargs)
        if compare_only and not interaction:
            raise invalid_value("compare_only", compare_only, "False when interaction=False",
                                "compare_only keeps only the comparison features, which "
                                "interaction=False removes; set interaction=True")
        self.compare_only = bool(compare_only)
        self.units, self.output_units = tuple(units), output_units
        self.encoder, self.interaction = encoder, interaction
        self.mlp = keras.Sequential(
            [layers.Dense(u, activation="relu") for u in self.units]
            + [layers.Dense(output_units)], name="mlp")

    def build(self, query_x_shape, learner_output_shape=None):
        code_dim = learner_output_shape[FEATURES][-1]
        self.project = None
        if self.interaction and (self.encoder is not None or query_x_shape[-1] != code_dim):
            self.project = layers.Dense(code_dim, name="project")
        self.built = True

    def call(self, query_x, learner_output, training=None):
        code = require(learner_output, FEATURES, self)
        q = query_x
        if self.encoder is not None:
            q = apply_per_example(self.encoder, q, training=training)
        q = ops.cast(q, self.compute_dtype)
        c = ops.broadcast_to(ops.expand_dims(code, 1),
                             (ops.shape(q)[0], ops.shape(q)[1], code.shape[-1]))
        if self.interaction:
            p = q if self.project is None else self.project(q)
            compared = [p * c, ops.abs(p - c)]
            h = ops.concatenate(compared if self.compare_only else [q, c, *compared], axis=-1)
        else:
            h = ops.concatenate([q, c], axis=-1)
        y = apply_per_example(self.mlp, h, training=training)
        return ops.squeeze(y, -1) if self.output_units == 1 else y

    def get_config(self):
        return {**super().get_config(), "units": list(self.units),
                "output_units": self.output_units, "interaction": self.interaction,
                "compare_only": self.compare_only,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
