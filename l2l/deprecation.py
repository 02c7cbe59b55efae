"""Old import paths kept for one release: a module moved elsewhere warns when imported.

>>> import warnings
>>> from l2l.deprecation import warn_moved
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warn_moved("l2l.old", "l2l.new")
>>> print(caught[0].message)
l2l.old is deprecated: import from l2l.new instead; the old path goes in the next release.
"""

import warnings


def warn_moved(old: str, new: str) -> None:
    """Warn (`DeprecationWarning`) that module `old` moved to `new`; call it from `old`."""
    warnings.warn(f"{old} is deprecated: import from {new} instead; the old path goes in the "
                  "next release.", DeprecationWarning, stacklevel=3)
