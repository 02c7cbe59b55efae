"""Fixed evaluation episode sets stored in HDF5, so every method is scored on the same episodes.

`episode_set(path, task, num_episodes, seed, split)` returns `task.fixed_episodes(num_episodes,
seed)`: the first call generates the episodes and writes them to `path`; later calls read the
file back, bit for bit, after checking that it is the set asked for. A file made from another
split, seed, task configuration, task family, episode count, l2l version or file format, a file
whose content was modified, and a file that is truncated or is not HDF5 are never used
silently: `StaleEpisodeSetError` (a mismatch) or `l2l.datasets.CorruptDataError` (unreadable)
says what differs and how to fix it, and `regenerate=True` replaces such a file instead. On
every load one generation batch is also regenerated from `task` and compared with the file, which
catches what a configuration cannot show: other source data (another MNIST copy) or changed
generation code. Files are written to a temporary name and renamed into place, so a crash
never leaves half a file under `path`.

File format (version 1)
-----------------------
One HDF5 file holds one `Episode` of `n` evaluation episodes.

Datasets, one per Episode field, with the exact dtype and shape of the Episode's array
(gzip-compressed, decompressed bit for bit):

    support_x [n, S, ...]   support_y [n, S, ...]   support_mask [n, S]
    query_x   [n, Q, ...]   query_y   [n, Q, ...]

Attributes of the root group:

    format_version         int   FORMAT_VERSION, the version of this layout
    task_family            str   the task's class, "module.QualifiedName"
    task_config            str   JSON (sorted keys) of `task.config()`
    config_fingerprint     str   sha256 of task_family and task_config (`config_fingerprint`)
    split                  str   the split the episodes come from ("val", "test", ...)
    seed                   int   the seed given to `TaskDistribution.fixed_episodes`
    num_episodes           int   n
    evaluation_chunk       int   `l2l.tasks.base.EVALUATION_CHUNK` of the writer
    content_fingerprint    str   sha256 over every dataset's name, dtype, shape and bytes
    library_version        str   `l2l.__version__` of the writer
    created                str   UTC time of writing, ISO 8601 (informative, never checked)

Example:

>>> import os, tempfile
>>> import numpy as np
>>> from l2l.tasks import SinusoidTask
>>> path = os.path.join(tempfile.mkdtemp(), "sinusoid_test.h5")
>>> task = SinusoidTask(shots=5, queries=10)
>>> first = episode_set(path, task, num_episodes=300, seed=0, split="test")   # generates
>>> again = episode_set(path, task, num_episodes=300, seed=0, split="test")   # reads
>>> np.array_equal(first.query_y, again.query_y), again.batch_size
(True, 300)
>>> episode_set(path, task, num_episodes=300, seed=1, split="test")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
l2l.episode_store.StaleEpisodeSetError: ...seed: stored 0, asked for 1...
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np

import l2l
from l2l.datasets.paths import CorruptDataError
from l2l.episodes import Episode
from l2l.errors import InvalidValueError, L2LError
from l2l.tasks.base import EVALUATION_CHUNK, TaskDistribution
from l2l.training.atomic import atomic_path

FORMAT_VERSION = 1
FIELDS = tuple(f.name for f in dataclasses.fields(Episode))
"""The Episode fields, one HDF5 dataset each, in the order the content fingerprint hashes."""



class StaleEpisodeSetError(L2LError, ValueError):
    """A stored episode set is readable but is not the set asked for (or was modified)."""


@dataclasses.dataclass(frozen=True)
class EpisodeSetInfo:
    """What a stored episode set claims to be: the checked attributes of the file format."""

    task_family: str
    task_config: str
    split: str
    seed: int
    num_episodes: int
    evaluation_chunk: int = EVALUATION_CHUNK
    library_version: str = l2l.__version__
    format_version: int = FORMAT_VERSION

    @classmethod
    def of(cls, task: TaskDistribution, num_episodes: int, seed: int,
           split: str) -> EpisodeSetInfo:
        """The info of `task.fixed_episodes(num_episodes, seed)`."""
        config = task.config()
        if "split" in config and config["split"] != split:
            raise InvalidValueError(f"split={split!r} contradicts the task, which draws from the "
                             f"{config['split']!r} split; pass split={config['split']!r}.")
        return cls(task_family=task_family(task), task_config=canonical_json(config),
                   split=str(split), seed=int(seed), num_episodes=int(num_episodes))

    @property
    def config_fingerprint(self) -> str:
        """The sha256 of the stored set's task family and configuration."""
        return config_fingerprint(self.task_family, self.task_config)


def task_family(task: TaskDistribution) -> str:
    """`"module.QualifiedName"` of the task's class."""
    return f"{type(task).__module__}.{type(task).__qualname__}"


def canonical_json(config: dict) -> str:
    """`config` as JSON with sorted keys and no spaces: equal configs give equal strings."""
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidValueError(
            f"A task config must hold only finite JSON values (numbers, strings, "
                         f"lists, dicts); {e}. Fix the task's config() method.") from None


def config_fingerprint(family: str, config_json: str) -> str:
    """sha256 hex digest identifying a task family and configuration."""
    return hashlib.sha256(f"{family}\n{config_json}".encode()).hexdigest()


def content_fingerprint(episodes: Episode) -> str:
    """sha256 hex digest over every field's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in FIELDS:
        array = np.ascontiguousarray(getattr(episodes, name))
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_episode_set(path: str | os.PathLike, episodes: Episode, info: EpisodeSetInfo) -> None:
    """Write `episodes` and `info` to `path` atomically (`l2l.training.atomic.atomic_path`)."""
    import h5py

    if episodes.batch_size != info.num_episodes:
        raise InvalidValueError(f"info says {info.num_episodes} episodes but the Episode holds "
                         f"{episodes.batch_size}.")
    with atomic_path(path) as temporary, h5py.File(temporary, "w") as f:
        for name in FIELDS:
            array = getattr(episodes, name)
            f.create_dataset(name, data=array, compression="gzip", compression_opts=4,
                             shuffle=array.itemsize > 1)
        attrs = {**dataclasses.asdict(info),
                 "config_fingerprint": info.config_fingerprint,
                 "content_fingerprint": content_fingerprint(episodes),
                 "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                     timespec="seconds")}
        f.attrs.update(attrs)


def read_episode_set(path: str | os.PathLike) -> tuple[Episode, EpisodeSetInfo]:
    """The episodes and info stored at `path`, after checking the content fingerprint.

    Raises:
        FileNotFoundError: nothing at `path`.
        CorruptDataError: not an HDF5 episode set, truncated, or missing parts.
        StaleEpisodeSetError: another format version, or content changed since writing.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No episode set at {path}.")
    fix = "Delete it (it is regenerated on demand) or ask for regeneration."
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
            if "format_version" not in attrs:
                raise CorruptDataError(f"{path} is HDF5 but not an l2l episode set (it has no "
                                       f"format_version attribute). {fix}")
            if attrs["format_version"] != FORMAT_VERSION:
                raise StaleEpisodeSetError(
                    f"{path} has episode-set format version {attrs['format_version']}; this "
                    f"l2l reads version {FORMAT_VERSION}. {fix}")
            missing = [k for k in FIELDS if k not in f]
            if missing:
                raise CorruptDataError(f"{path} lacks the dataset(s) {missing}. {fix}")
            arrays = {k: f[k][()] for k in FIELDS}
    except OSError as e:
        raise CorruptDataError(f"{path} cannot be read as an HDF5 episode set (truncated or "
                               f"corrupt): {e}. {fix}") from None
    try:
        info = EpisodeSetInfo(**{k.name: attrs[k.name] for k in dataclasses.fields(EpisodeSetInfo)})
    except KeyError as e:
        raise CorruptDataError(f"{path} lacks the attribute {e.args[0]!r}. {fix}") from None
    try:
        episodes = Episode(**arrays)
    except (TypeError, ValueError) as e:
        raise CorruptDataError(f"{path} does not hold a valid Episode: {e} {fix}") from None
    if content_fingerprint(episodes) != attrs.get("content_fingerprint"):
        raise StaleEpisodeSetError(
            f"{path} was modified after it was written: its content does not match its "
            f"content_fingerprint. {fix}")
    return episodes, info


def check_info(path: str | os.PathLike, stored: EpisodeSetInfo, expected: EpisodeSetInfo) -> None:
    """Raise `StaleEpisodeSetError` listing every attribute where `stored` differs."""
    differences = []
    for field in dataclasses.fields(EpisodeSetInfo):
        have, want = getattr(stored, field.name), getattr(expected, field.name)
        if have != want:
            if field.name == "task_config":
                differences.append(f"task config: {_config_diff(have, want)}")
            else:
                differences.append(f"{field.name}: stored {have!r}, asked for {want!r}")
    if differences:
        raise StaleEpisodeSetError(
            f"{path} is not the episode set asked for: " + "; ".join(differences)
            + ". Regenerate it (regenerate=True; benchmarks: --regenerate-episodes) or delete "
            "it.")


def load_episode_set(path: str | os.PathLike, task: TaskDistribution, num_episodes: int,
                     seed: int, split: str) -> Episode:
    """The stored set at `path`, checked to be `task.fixed_episodes(num_episodes, seed)`.

    Besides the attributes, the first generation batch is regenerated from `task` and compared
    bit for bit, which catches changed source data or generation code.
    """
    expected = EpisodeSetInfo.of(task, num_episodes, seed, split)
    episodes, stored = read_episode_set(path)
    check_info(path, stored, expected)
    probe = task.fixed_episodes(min(EVALUATION_CHUNK, num_episodes), seed)
    if content_fingerprint(probe) != content_fingerprint(episodes[: probe.batch_size]):
        raise StaleEpisodeSetError(
            f"{path} matches the task's configuration, but the task now generates other "
            "episodes from it: its source data (e.g. another copy of the images) or its "
            "generation code changed. Regenerate the set (regenerate=True; benchmarks: "
            "--regenerate-episodes) and re-score every method on it.")
    return episodes


def episode_set(path: str | os.PathLike, task: TaskDistribution, num_episodes: int, seed: int,
                split: str, regenerate: bool = False) -> Episode:
    """`task.fixed_episodes(num_episodes, seed)`, stored at `path` and read from it after.

    A missing file is generated. A stale or corrupt one raises (`StaleEpisodeSetError`,
    `CorruptDataError`) unless `regenerate` is true, in which case it is replaced.
    """
    path = Path(path)
    if path.exists():
        try:
            return load_episode_set(path, task, num_episodes, seed, split)
        except (StaleEpisodeSetError, CorruptDataError):
            if not regenerate:
                raise
    info = EpisodeSetInfo.of(task, num_episodes, seed, split)
    episodes = task.fixed_episodes(num_episodes, seed)
    save_episode_set(path, episodes, info)
    return episodes


def _plain(value):
    """An HDF5 attribute as a plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _config_diff(stored: str, expected: str) -> str:
    try:
        have, want = json.loads(stored), json.loads(expected)
    except ValueError:
        return f"stored {stored!r}, asked for {expected!r}"
    keys = sorted(set(have) | set(want))
    parts = [f"{k} stored {have.get(k, '<absent>')!r}, asked for {want.get(k, '<absent>')!r}"
             for k in keys if have.get(k) != want.get(k)]
    return ", ".join(parts)
