"""Task distributions: datasets of datasets that stream batched `Episode`s."""

from l2l.tasks.base import TaskDistribution
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
    "PROTOCOLS",
    "SPLIT_SEED",
    "SinusoidTask",
    "TaskDistribution",
    "TwoDigitTask",
    "heldout_digits",
    "image_pools",
    "number_splits",
]
