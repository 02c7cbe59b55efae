"""Learners: a support set in, a `LearnerOutput` (features, weights, context) out.

`l2l.learners.base` documents the contract; `register` (the same function as
`l2l.serialization.register`) makes a new learner save and load as part of a `.keras` model.
"""

from l2l.learners.attention import AttentionLearner
from l2l.learners.base import (
    CONTEXT,
    CONTEXT_KEYS,
    CONTEXT_MASK,
    FEATURES,
    LEARNER_OUTPUT_KEYS,
    WEIGHTS,
    Learner,
)
from l2l.learners.causal import CausalAttentionLearner, OnlinePrototypeLearner
from l2l.learners.film import FiLMGenerator
from l2l.learners.heads import ClassHeadGenerator, PrototypeHeadGenerator, VersaHeadGenerator
from l2l.learners.hyper import DenseWeightGenerator
from l2l.learners.key_value import KeyValueMemory
from l2l.learners.mann import MANNLearner
from l2l.learners.matching import MatchingLearner
from l2l.learners.pooling import PooledLearner
from l2l.learners.sequence import SequenceLearner, online_predictions
from l2l.learners.support_set import SupportSetLearner
from l2l.serialization import register

__all__ = [
    "CONTEXT",
    "CONTEXT_KEYS",
    "CONTEXT_MASK",
    "FEATURES",
    "LEARNER_OUTPUT_KEYS",
    "WEIGHTS",
    "AttentionLearner",
    "CausalAttentionLearner",
    "ClassHeadGenerator",
    "DenseWeightGenerator",
    "FiLMGenerator",
    "KeyValueMemory",
    "Learner",
    "MANNLearner",
    "MatchingLearner",
    "OnlinePrototypeLearner",
    "PooledLearner",
    "PrototypeHeadGenerator",
    "SequenceLearner",
    "SupportSetLearner",
    "VersaHeadGenerator",
    "online_predictions",
    "register",
]
