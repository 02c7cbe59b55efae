"""Deprecated alias of `l2l.training.distribute`: import from there.

This path goes in the next release.

(A package rather than a `distribute.py` module, so that git follows the moved file's history.)

Example, the new import:

>>> from l2l.training.distribute import cluster_spec
"""

import warnings

from l2l.training.distribute import *  # noqa: F403
from l2l.training.distribute import TF_CONFIG, MultiWorkerFitMixin  # noqa: F401

warnings.warn("l2l.distribute is deprecated: import from l2l.training.distribute instead.",
              DeprecationWarning, stacklevel=2)
