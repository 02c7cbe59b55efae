"""Predictors: query examples plus the learner's output in, predictions out."""

from l2l.predictors.base import Predictor
from l2l.predictors.conditioned import ConditionedPredictor
from l2l.predictors.generated import GeneratedDensePredictor

__all__ = ["ConditionedPredictor", "GeneratedDensePredictor", "Predictor"]
