"""Raw data in, arrays out: dataset loaders with one path-resolution rule and clear errors."""

from l2l.datasets.idx import read_idx, write_idx
from l2l.datasets.mnist import load_mnist
from l2l.datasets.omniglot import Omniglot, load_omniglot
from l2l.datasets.omniglot_splits import alphabet_splits, character_splits
from l2l.datasets.paths import (
    DATA_DIR_ENV,
    ChecksumError,
    CorruptDataError,
    DataNotFoundError,
)

__all__ = [
    "DATA_DIR_ENV",
    "ChecksumError",
    "CorruptDataError",
    "DataNotFoundError",
    "Omniglot",
    "alphabet_splits",
    "character_splits",
    "load_mnist",
    "load_omniglot",
    "read_idx",
    "write_idx",
]
