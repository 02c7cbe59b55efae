"""Where dataset files live, and the errors every loader raises about them.

Loaders look for data in a fixed order (see `candidate_dirs`): an explicit `path` argument
wins and is the only place searched; otherwise `$L2L_DATA_DIR` is searched, then the Keras
cache directory (`$KERAS_HOME/datasets`, by default `~/.keras/datasets`).

Example:

>>> import os
>>> from l2l.datasets.paths import candidate_dirs
>>> [d.name for d in candidate_dirs("/data/mnist", "mnist")]
['mnist']
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from l2l.errors import L2LError

DATA_DIR_ENV = "L2L_DATA_DIR"
"""Environment variable naming a directory that holds l2l datasets (one subdirectory each)."""

_CHUNK_SIZE = 1 << 20


class DataNotFoundError(L2LError, FileNotFoundError):
    """A dataset could not be found in any of the places a loader looked.

    The message lists every place looked, one per line, and how to make the data available.
    """


class ChecksumError(L2LError, ValueError):
    """A dataset file with a canonical name does not have the published digest.

    This almost always means a partial download or a corrupted copy: delete the file and
    download it again.
    """


class CorruptDataError(L2LError, ValueError):
    """A dataset file exists but cannot be parsed (bad header, truncated, wrong shape)."""


def keras_cache_dir() -> Path:
    """Returns the Keras dataset cache directory, honouring `$KERAS_HOME`.

    Example:

    >>> keras_cache_dir().name
    'datasets'
    """
    home = os.environ.get("KERAS_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".keras"
    return base / "datasets"


def candidate_dirs(path: str | os.PathLike | None, subdir: str) -> list[Path]:
    """Returns the places to search for a dataset, most preferred first.

    Args:
        path: Explicit location given by the user, or `None`. When given, it is the only
            place searched (plus `path/subdir` if that is a directory); an explicit path
            never falls back to the environment or the Keras cache. It may also name a file.
        subdir: Name of the dataset's own subdirectory, e.g. `"mnist"`.

    Returns:
        A list of `Path`s without duplicates. Without `path`: `$L2L_DATA_DIR/subdir` and
        `$L2L_DATA_DIR` (when the variable is set), then the Keras cache directory.
        Entries need not exist.

    Example:

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "mnist"))
    >>> [d.name for d in candidate_dirs(root, "mnist")] == [os.path.basename(root), "mnist"]
    True
    """
    if path is not None:
        root = Path(path).expanduser()
        dirs = [root]
        if (root / subdir).is_dir():
            dirs.append(root / subdir)
        return _unique(dirs)
    dirs = []
    env_dir = os.environ.get(DATA_DIR_ENV)
    if env_dir:
        root = Path(env_dir).expanduser()
        dirs += [root / subdir, root]
    dirs.append(keras_cache_dir())
    return _unique(dirs)


def file_digest(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """Returns the hex digest of a file, read in chunks so large files stay cheap.

    Args:
        path: File to hash.
        algorithm: Any `hashlib` algorithm name, e.g. `"md5"` or `"sha256"`.

    Example:

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> file_digest(f.name)
    '900150983cd24fb0d6963f7d28e17f72'
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _unique(dirs: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out
