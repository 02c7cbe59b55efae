"""Learners: a support set in, a `LearnerOutput` (features and/or weights) out."""

from l2l.learners.base import FEATURES, WEIGHTS, Learner
from l2l.learners.hyper import DenseWeightGenerator
from l2l.learners.pooling import PooledLearner

__all__ = ["FEATURES", "WEIGHTS", "DenseWeightGenerator", "Learner", "PooledLearner"]
