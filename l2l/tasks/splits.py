"""The split conventions, defined once: fractions, split names and the recorded split seeds.

Every task family and dataset that cuts items (numbers, images, classes, alphabets) into
train/val/test parts uses these, so the published figures of l2l always refer to the same
parts. A *split seed* fixes which items land in which part; it is recorded here and is not
the seed of an episode stream (`TaskDistribution.dataset(seed=...)`).

Example:

>>> from l2l.tasks.splits import SPLIT_FRACTIONS, SPLIT_NAMES
>>> dict(zip(SPLIT_NAMES, SPLIT_FRACTIONS))
{'train': 0.7, 'val': 0.15, 'test': 0.15}
"""

SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
"""Share of the items in train, val and test."""

SPLIT_NAMES = ("train", "val", "test")

TWO_DIGIT_SPLIT_SEED = 20170
"""Every two-digit split: numbers, digit-image pools, held-out digits (`l2l.tasks.two_digit`)."""

CLASS_SPLIT_SEED = 20171
"""`l2l.tasks.class_splits`: the classes of N-way classification (MNIST digits, ...)."""

OMNIGLOT_SPLIT_SEED = 20172
"""`l2l.datasets.alphabet_splits` and `character_splits`."""
