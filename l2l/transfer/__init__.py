"""Deprecated alias of `l2l.systems.transfer` (a package, so git follows the moved file).

>>> import l2l.systems.transfer  # the new path
"""

from l2l.deprecation import warn_moved
from l2l.systems.transfer import *  # noqa: F403

warn_moved(__name__, "l2l.systems.transfer")
