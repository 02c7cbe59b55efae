"""Predictors: query examples plus the learner's output in, predictions out.

`l2l.predictors.base` documents the contract; `register` (the same function as
`l2l.serialization.register`) makes a new predictor save and load as part of a `.keras` model.
"""

from l2l.predictors.attentive import AttentivePredictor
from l2l.predictors.base import Predictor
from l2l.predictors.class_codes import ClassCodePredictor
from l2l.predictors.conditioned import ConditionedPredictor
from l2l.predictors.film import FiLMPredictor
from l2l.predictors.generated import GeneratedDensePredictor
from l2l.predictors.matching import MatchingPredictor
from l2l.predictors.nearest_key import MemoryLoss, NearestKeyPredictor
from l2l.predictors.statistician import StatisticianPredictor, WeightedCrossEntropy
from l2l.serialization import register

__all__ = [
    "AttentivePredictor",
    "ClassCodePredictor",
    "ConditionedPredictor",
    "FiLMPredictor",
    "GeneratedDensePredictor",
    "MatchingPredictor",
    "MemoryLoss",
    "NearestKeyPredictor",
    "Predictor",
    "StatisticianPredictor",
    "WeightedCrossEntropy",
    "register",
]
