"""Task distributions: datasets of datasets that stream batched `Episode`s."""

from l2l.tasks.base import TaskDistribution, fraction_split, random_subsets
from l2l.tasks.classification import CLASS_SPLIT_SEED, FewShotClassification, class_splits
from l2l.tasks.image_as_dataset import ImageAsDataset
from l2l.tasks.online import OnlineClassification, instance_numbers, per_instance_accuracy
from l2l.tasks.quadratic import QuadraticTask
from l2l.tasks.sinusoid import SinusoidTask
from l2l.tasks.two_digit import (
    PROTOCOLS,
    SPLIT_SEED,
    TwoDigitTask,
    heldout_digits,
    image_pools,
    number_splits,
)

__all__ = [
    "CLASS_SPLIT_SEED",
    "FewShotClassification",
    "ImageAsDataset",
    "OnlineClassification",
    "PROTOCOLS",
    "QuadraticTask",
    "SPLIT_SEED",
    "SinusoidTask",
    "TaskDistribution",
    "TwoDigitTask",
    "class_splits",
    "fraction_split",
    "random_subsets",
    "heldout_digits",
    "instance_numbers",
    "per_instance_accuracy",
    "image_pools",
    "number_splits",
]
