"""Atomic files: write beside the target, then move into place in one step.

A crash or kill mid-write leaves the previous file untouched, never a half-written one: every
file l2l writes (checkpoints, saved models, stored episodes, downloads, benchmark results)
goes through `atomic_path` (for a file a callback writes, e.g. `model.save(tmp)`) or one of
`write_bytes`, `write_text`, `write_json`.

Example:

>>> import os, tempfile
>>> from l2l.training.atomic import atomic_path, write_json
>>> path = os.path.join(tempfile.mkdtemp(), "results.json")
>>> write_json(path, {"accuracy": 0.9})
>>> try:
...     with atomic_path(path) as tmp:
...         with open(tmp, "w") as f:
...             _ = f.write('{"accuracy": ')
...         raise KeyboardInterrupt     # interrupted mid-save
... except KeyboardInterrupt:
...     pass
>>> open(path).read()                    # the previous file, intact
'{\\n  "accuracy": 0.9\\n}\\n'
>>> sorted(os.listdir(os.path.dirname(path)))   # and no temporary file left behind
['results.json']
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator

TMP_PREFIX = ".tmp-"  # temporary files start with it (hidden; never read as results)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside `path`; on success move it onto `path` in one step.

    The temporary file keeps `path`'s name as a suffix (Keras and matplotlib read the format
    from it). If the block raises, or the process dies, `path` is untouched; the temporary
    file is removed (or, after `kill -9`, left as a hidden `.tmp-*` file that is never read).
    The data is flushed to disk (`fsync`) before the move.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-" + os.path.basename(path),
                               dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(path))  # mkstemp makes it private; give it the usual mode
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path`, atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path`, atomically (see `atomic_path`)."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj, **dumps_kwargs) -> None:
    """Write `obj` as JSON (indented by 2 unless `indent=` says otherwise) to `path`,
    atomically (see `atomic_path`); other keywords go to `json.dumps`."""
    dumps_kwargs.setdefault("indent", 2)
    write_text(path, json.dumps(obj, **dumps_kwargs) + "\n")


def _file_mode(path: str) -> int:
    """The mode of the file being replaced, or what `open(path, "w")` would give a new one."""
    with contextlib.suppress(FileNotFoundError):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: str) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
