"""The predictor contract: query examples plus a LearnerOutput in, predictions out.

A predictor is a Keras layer called as

    predictor(query_x, learner_output, training=...) -> predictions [B, Q, ...]

with `query_x [B, Q, ...]` (raw or shared-encoder embeddings) and the dict the learner returned
(the `LearnerOutput`, whose keys `l2l.learners.base` lists). Binary and scalar-regression
predictors return `[B, Q]`, regression with `D` outputs `[B, Q, D]`, and N-way classifiers
class logits `[B, Q, ways]` (log-probabilities are logits too). A predictor reads what it
needs with `require`, so a mismatched learner is named in the error. docs/extending.md is the
guide to writing one.
"""

from __future__ import annotations

import keras

from l2l.errors import InvalidValueError


class Predictor(keras.layers.Layer):
    """Base class of predictors. Subclasses implement `call(query_x, learner_output)`."""

    def call(self, query_x, learner_output, training=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(query_x, learner_output, training=None)."
        )


def require(learner_output: dict, key: str, predictor: keras.layers.Layer):
    """`learner_output[key]`, or an error that says which learner output the predictor needs."""
    if not isinstance(learner_output, dict) or key not in learner_output:
        have = sorted(learner_output) if isinstance(learner_output, dict) else learner_output
        raise InvalidValueError(
            f"{type(predictor).__name__} needs the learner to emit {key!r}, but the learner "
            f"returned {have}. Pair it with a learner that emits {key!r}."
        )
    return learner_output[key]
