"""Deprecated alias of `l2l.training.distribute` (a package, so git follows the moved file).

>>> import l2l.training.distribute  # the new path
"""

from l2l.deprecation import warn_moved
from l2l.training.distribute import *  # noqa: F403
from l2l.training.distribute import TF_CONFIG  # noqa: F401

warn_moved(__name__, "l2l.training.distribute")
