"""Deprecated alias of `l2l.systems.reconstruction`: import from there.

This path goes in the next release.

(A package rather than a `reconstruction.py` module, so that git follows the moved file's history.)

Example, the new import:

>>> from l2l.systems.reconstruction import ReconstructionClassifier
"""

import warnings

from l2l.systems.reconstruction import *  # noqa: F403

warnings.warn("l2l.reconstruction is deprecated: import from l2l.systems.reconstruction instead.",
              DeprecationWarning, stacklevel=2)
