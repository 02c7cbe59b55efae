"""Raw data in, arrays out: dataset loaders with one path-resolution rule and clear errors."""

from l2l.datasets.idx import read_idx, write_idx
from l2l.datasets.mnist import load_mnist
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
    "load_mnist",
    "read_idx",
    "write_idx",
]
