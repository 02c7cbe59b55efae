"""Deprecated alias of `l2l.systems.transfer`: import from there.

This path goes in the next release.

(A package rather than a `transfer.py` module, so that git follows the moved file's history.)

Example, the new import:

>>> from l2l.systems.transfer import transfer_by_activation
"""

import warnings

from l2l.systems.transfer import *  # noqa: F403

warnings.warn("l2l.transfer is deprecated: import from l2l.systems.transfer instead.",
              DeprecationWarning, stacklevel=2)
