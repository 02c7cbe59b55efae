# Over 300 lines: one dataset's loader (find, verify, parse, explain failures); the parts
# shared with Omniglot already live in l2l.datasets.paths and l2l.datasets.idx.
"""The MNIST handwritten digits, from local files when present, else via Keras.

`load_mnist` searches `candidate_dirs(path, "mnist")` for either a Keras `mnist.npz` or the
four canonical IDX files (each optionally gzipped). Files with canonical names are checked
against their published digests, and every array is checked for shape, dtype and label range.
Decoded arrays are cached in-process, keyed by file path, modification time and size.

Example:

>>> import os, tempfile
>>> import numpy as np
>>> from l2l.datasets.idx import write_idx
>>> root = tempfile.mkdtemp()
>>> write_idx(os.path.join(root, "train-images-idx3-ubyte"), np.zeros((3, 28, 28), np.uint8))
>>> write_idx(os.path.join(root, "train-labels-idx1-ubyte"), np.array([4, 2, 0], np.uint8))
>>> images, labels = load_mnist(root, subset="train", download=False)
>>> images.shape, labels.tolist()
((3, 28, 28), [4, 2, 0])
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path

import numpy as np

from l2l.datasets.idx import read_idx
from l2l.datasets.paths import (
    DATA_DIR_ENV,
    ChecksumError,
    CorruptDataError,
    DataNotFoundError,
    candidate_dirs,
    file_digest,
    keras_cache_dir,
)
from l2l.errors import InvalidValueError

MNIST_CHECKSUMS: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
"""md5 digests of the canonical MNIST files, by file name. Uncompressed train files have no
entry: they are validated structurally only."""

MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
"""sha256 of the `mnist.npz` that `keras.datasets.mnist.load_data()` downloads."""

SUBSETS = ("train", "test", "all")

_NPZ_NAME = "mnist.npz"
_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_NPZ_KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
_IMAGE_SHAPE = (28, 28)
_NUM_CLASSES = 10


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    subset: str = "test",
    download: bool = True,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads MNIST images and labels.

    Each requested split is served from the first searched place holding both its images and
    its labels, either as a Keras `mnist.npz` or as canonical IDX files (plain or `.gz`).
    Places searched: `path` only, when given (also `path/mnist`; `path` may name an `.npz`
    file); otherwise `$L2L_DATA_DIR/mnist`, `$L2L_DATA_DIR` and the Keras cache, and finally
    `keras.datasets.mnist.load_data()` if `download` is true. Other data is never substituted.

    Args:
        path: Directory holding the files, or an `.npz` file. When given, nothing else is
            searched and nothing is downloaded.
        subset: `"train"` (60,000 images), `"test"` (10,000) or `"all"` (train then test).
        download: Whether to let Keras download `mnist.npz` when no local copy is found.
        verify: Whether to check files with canonical names against their known digests.

    Returns:
        `(images, labels)`: uint8 arrays of shape `(N, 28, 28)` and `(N,)`, labels in 0..9.

    Raises:
        ValueError: If `subset` is not one of `"train"`, `"test"`, `"all"`.
        DataNotFoundError: If a requested split is found nowhere; lists every place looked.
        ChecksumError: If a canonically named file does not match its published digest.
        CorruptDataError: If a file cannot be parsed or holds arrays of the wrong shape.

    Example:

    >>> images, labels = load_mnist(subset="test")  # doctest: +SKIP
    >>> images.shape, images.dtype, labels.shape  # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'), (10000,))
    """
    if subset not in SUBSETS:
        raise InvalidValueError(
            f"Unknown MNIST subset {subset!r}; valid choices are "
            f"{', '.join(repr(s) for s in SUBSETS)}."
        )
    splits = ("train", "test") if subset == "all" else (subset,)
    dirs = candidate_dirs(path, "mnist")
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for place in dirs:
        for split in splits:
            if split not in found:
                arrays = _load_split(place, split, verify)
                if arrays is not None:
                    found[split] = arrays
    missing = [split for split in splits if split not in found]
    if missing:
        download_note = _download_missing(missing, found, path, download)
        if any(split not in found for split in missing):
            raise DataNotFoundError(_not_found_message(missing, dirs, download_note))
    if len(splits) == 1:
        images, labels = found[splits[0]]
        return images.copy(), labels.copy()
    return (
        np.concatenate([found[s][0] for s in splits]),
        np.concatenate([found[s][1] for s in splits]),
    )


def _load_split(place: Path, split: str, verify: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Returns the validated split stored at `place`, or `None` if it is not all there."""
    if place.is_file():
        if place.suffix != ".npz":
            return None
        return _split_from_npz(place, split, verify)
    if not place.is_dir():
        return None
    npz = place / _NPZ_NAME
    if npz.is_file():
        arrays = _split_from_npz(npz, split, verify)
        if arrays is not None:
            return arrays
    files = [_existing_idx(place, name) for name in _IDX_NAMES[split]]
    if None in files:
        return None
    images, labels = (_read_idx_file(f, verify) for f in files)
    return _validate(images, labels, f"{files[0]} and {files[1]}")


def _existing_idx(place: Path, name: str) -> Path | None:
    for candidate in (place / f"{name}.gz", place / name):
        if candidate.is_file():
            return candidate
    return None


def _split_from_npz(
    path: Path, split: str, verify: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    key = _file_key(path)
    if verify and path.name == _NPZ_NAME:
        _check_digest(path, key, "sha256", MNIST_NPZ_SHA256)
    image_key, label_key = _NPZ_KEYS[split]
    if not {image_key, label_key} <= _npz_keys(*key):
        return None
    images, labels = _npz_array(*key, image_key), _npz_array(*key, label_key)
    return _validate(images, labels, f"{path} [{image_key}, {label_key}]")


def _read_idx_file(path: Path, verify: bool) -> np.ndarray:
    key = _file_key(path)
    expected = MNIST_CHECKSUMS.get(path.name)
    if verify and expected is not None:
        _check_digest(path, key, "md5", expected)
    return _idx_array(*key)


def _validate(
    images: np.ndarray, labels: np.ndarray, source: str
) -> tuple[np.ndarray, np.ndarray]:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
        raise CorruptDataError(
            f"MNIST images in {source} should be a uint8 array of shape (N, 28, 28), got "
            f"{images.dtype} {images.shape}. Replace the file with a correct copy."
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise CorruptDataError(
            f"MNIST labels in {source} should be a 1-D integer array, got {labels.dtype} "
            f"{labels.shape}. Replace the file with a correct copy."
        )
    if len(images) != len(labels):
        raise CorruptDataError(
            f"MNIST data in {source} has {len(images)} images but {len(labels)} labels. "
            "Replace the files with a matching pair."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise CorruptDataError(
            f"MNIST labels in {source} should lie in 0..9, found values from {labels.min()} "
            f"to {labels.max()}. Replace the file with a correct copy."
        )
    return images, labels.astype(np.uint8, copy=False)


def _check_digest(path: Path, key: tuple, algorithm: str, expected: str) -> None:
    actual = _digest(*key, algorithm)
    if actual != expected:
        raise ChecksumError(
            f"{path} has {algorithm} {actual}, but the canonical {path.name} has {algorithm} "
            f"{expected}. The file is corrupt or only partially downloaded: delete it and "
            "download it again (or pass verify=False if you built this file yourself)."
        )


def _download_missing(
    missing: list[str],
    found: dict[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike | None,
    download: bool,
) -> str:
    """Fills `found` from `keras.datasets.mnist.load_data()` if allowed; returns a note."""
    if path is not None:
        return "download: not attempted (an explicit path was given)"
    if not download:
        return "download: disabled (download=False)"
    try:
        from keras.datasets import mnist as keras_mnist  # Imported lazily: Keras is slow.

        (x_train, y_train), (x_test, y_test) = keras_mnist.load_data()
    except Exception as e:  # Any failure (offline, HTTP error, bad hash) is reported below.
        return f"download failed: {type(e).__name__}: {e}"
    arrays = {"train": (x_train, y_train), "test": (x_test, y_test)}
    for split in missing:
        found[split] = _validate(*arrays[split], "keras.datasets.mnist.load_data()")
    return "download: succeeded"


def _not_found_message(missing: list[str], dirs: list[Path], download_note: str) -> str:
    wanted = " and ".join(missing)
    lines = [f"Could not find the MNIST {wanted} split (images and labels). Looked in:"]
    lines += [f"  {_describe(place, missing)}" for place in dirs]
    lines.append(f"  {download_note}")
    lines += [
        "To fix this, do one of:",
        "  - pass path=... naming a directory that holds mnist.npz or the IDX files "
        "(or naming an .npz file);",
        f"  - set {DATA_DIR_ENV} to such a directory (files directly in it or in an "
        "'mnist' subdirectory);",
        "  - call load_mnist(download=True) with path=None while online, so Keras downloads "
        f"mnist.npz into {keras_cache_dir()}.",
    ]
    return "\n".join(lines)


def _describe(place: Path, missing: list[str]) -> str:
    if place.is_file():
        if place.suffix != ".npz":
            return f"{place}: is a file but not an .npz archive; pass its directory instead"
        return f"{place}: has no {_npz_key_list(missing)} arrays"
    tried = [_NPZ_NAME] + [f"{n}[.gz]" for s in missing for n in _IDX_NAMES[s]]
    if not place.exists():
        return f"{place}: no such directory (tried {', '.join(tried)})"
    if not place.is_dir():
        return f"{place}: not a directory"
    present = sorted(
        f.name
        for f in place.iterdir()
        if f.name == _NPZ_NAME
        or f.name.removesuffix(".gz") in {n for names in _IDX_NAMES.values() for n in names}
    )
    summary = f"found {', '.join(present)}" if present else "none present"
    if _NPZ_NAME in present:
        summary += f" ({_NPZ_NAME} lacks {_npz_key_list(missing)})"
    return f"{place}: tried {', '.join(tried)}; {summary}"


def _npz_key_list(splits: list[str]) -> str:
    return "/".join(k for s in splits for k in _NPZ_KEYS[s])


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


# In-process caches, keyed by (resolved path, mtime_ns, size) so edited files are re-read.


@functools.lru_cache(maxsize=32)
def _digest(path: str, mtime_ns: int, size: int, algorithm: str) -> str:
    return file_digest(path, algorithm)


@functools.lru_cache(maxsize=8)
def _idx_array(path: str, mtime_ns: int, size: int) -> np.ndarray:
    return _read_only(read_idx(path))


@functools.lru_cache(maxsize=8)
def _npz_keys(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    with _open_npz(path) as f:
        return frozenset(f.files)


@functools.lru_cache(maxsize=8)
def _npz_array(path: str, mtime_ns: int, size: int, key: str) -> np.ndarray:
    with _open_npz(path) as f:
        try:
            return _read_only(np.asarray(f[key]))
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
            raise CorruptDataError(
                f"{path} is a damaged .npz archive: cannot read {key!r} "
                f"({type(e).__name__}: {e}). Delete it and obtain the file again."
            ) from e


def _open_npz(path: str) -> np.lib.npyio.NpzFile:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise CorruptDataError(
            f"{path} is not a readable .npz archive ({type(e).__name__}: {e}). "
            "Delete it and obtain the file again."
        ) from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise CorruptDataError(
            f"{path} holds a single .npy array, not an .npz archive with x_train, y_train, "
            "x_test and y_test. Save the arrays with np.savez instead."
        )
    return archive


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
