"""Omniglot handwritten characters (Lake et al., 2015), read straight from the canonical zips.

The dataset is 1623 characters from 50 alphabets, each drawn once by 20 people, as 105x105
black-and-white PNGs. `brendenlake/omniglot` ships it as zips with the layout
`<set>/<Alphabet>/<character>/<drawer>.png`:

- `images_background` (30 alphabets, 964 characters) and `images_evaluation` (20 alphabets,
  659 characters): the full dataset, Lake et al.'s own train/test division;
- `images_background_small1` and `images_background_small2` (5 alphabets each): the
  "minimal training" subsets of the background set.

`load_omniglot` finds each requested zip with the library's path rule (`candidate_dirs`:
`path`, else `$L2L_DATA_DIR/omniglot`, `$L2L_DATA_DIR`, the Keras cache), downloads it into the
Keras cache when allowed, checks its md5, and decodes it without unzipping to disk. Decoding
thousands of PNGs takes seconds, so the decoded arrays are cached as an `.npz` under
`<Keras cache>/omniglot-decoded/`, keyed by the zip's md5 and the image size (written
atomically; delete the folder to rebuild it).

Images are uint8 with ink high (255) on a 0 background, like MNIST, resized by area averaging
(PIL's BOX filter), so small images have grey edges. Labels are int32: `characters` (the class
of a few-shot task), `alphabets`, `drawers` (1-20), in an `Omniglot` record
(`l2l.datasets.omniglot_data`); `Omniglot.rotated` adds rotated copies as
new classes (the common augmentation of Santoro et al., 2016; Vinyals et al., 2016), and
`alphabet_splits` / `character_splits` (`l2l.datasets.omniglot_splits`) split the classes for
evaluation on unseen classes.

Example, on a tiny zip with the canonical layout:

>>> import io, os, tempfile, zipfile
>>> import numpy as np
>>> from PIL import Image
>>> root = tempfile.mkdtemp()
>>> with zipfile.ZipFile(os.path.join(root, "images_background_small1.zip"), "w") as z:
...     for a, c, d in [("Greek", 1, 1), ("Greek", 1, 2), ("Latin", 3, 1)]:
...         png = io.BytesIO()
...         Image.fromarray(np.full((105, 105), 255, np.uint8)).save(png, "PNG")
...         z.writestr(f"images_background_small1/{a}/character0{c}/000{c}_0{d}.png",
...                    png.getvalue())
>>> data = load_omniglot(root, verify=False, cache_dir=False)
>>> data.images.shape, data.characters.tolist(), data.alphabet_names
((3, 28, 28), [0, 0, 1], ('Greek', 'Latin'))
>>> four = data.rotated()  # 90-degree turns as new classes: character c, turn r -> 4c + r
>>> len(four), four.num_classes, four.character_names[:2]
(12, 8, ('Greek/character01/rot0', 'Greek/character01/rot90'))
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from l2l.datasets.omniglot_data import Omniglot
from l2l.datasets.omniglot_splits import (  # noqa: F401  (their old import path)
    alphabet_splits,
    character_splits,
)
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
from l2l.training.atomic import atomic_path

OMNIGLOT_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/{}.zip"
"""Where each zip is downloaded from (`{}` is the set name)."""

OMNIGLOT_CHECKSUMS: dict[str, str] = {
    "images_background": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811",
    "images_background_small1": "e704a628b5459e08445c13499850abc4",
    "images_background_small2": "b75a71a51d3b13f821f212756fe481fd",
}
"""md5 of each canonical zip, by set name (the full sets' digests as in torchvision)."""

SETS = tuple(OMNIGLOT_CHECKSUMS)
ORIGINAL_SIZE = 105
_CACHE_VERSION = 1
_CACHE_SUBDIR = "omniglot-decoded"


def load_omniglot(
    path: str | os.PathLike | None = None,
    *,
    sets: str | tuple[str, ...] = ("images_background_small1",),
    image_size: int = 28,
    download: bool = True,
    verify: bool = True,
    cache_dir: str | os.PathLike | Literal[False] | None = None,
) -> Omniglot:
    """Loads Omniglot images with character, alphabet and drawer labels.

    Args:
        path: directory holding the zips (or one zip file). When given, nothing else is
            searched and nothing is downloaded.
        sets: which zips to load, from `SETS`; the full dataset is
            `("images_background", "images_evaluation")`. Images follow the order of `sets`;
            an image in several of them (the small sets overlap) is kept once.
        image_size: side of the square output images (105 keeps the original resolution).
        download: whether to download missing zips into the Keras cache (only when `path` is
            `None`).
        verify: whether to check each zip's md5 against `OMNIGLOT_CHECKSUMS`.
        cache_dir: where decoded arrays are cached; `None` for `<Keras cache>/omniglot-decoded`,
            `False` to disable the cache.

    Returns:
        An `Omniglot` (see its attributes). Character and alphabet ids are sorted by name.

    Raises:
        ValueError: unknown set names or a bad `image_size`.
        DataNotFoundError: a zip is found nowhere; lists every place looked and the fix.
        ChecksumError: a zip does not have its published md5.
        CorruptDataError: a zip or PNG cannot be read, or the zip's layout is not canonical.

    >>> data = load_omniglot(sets=("images_background", "images_evaluation"))  # doctest: +SKIP
    >>> data.images.shape, data.num_classes, len(data.alphabet_names)  # doctest: +SKIP
    ((32460, 28, 28), 1623, 50)
    """
    names = (sets,) if isinstance(sets, str) else tuple(sets)
    unknown = [s for s in names if s not in SETS]
    if not names or unknown or len(set(names)) != len(names):
        raise InvalidValueError(f"sets must be distinct names from {SETS}, got {sets!r}.")
    if int(image_size) != image_size or not 1 <= image_size <= ORIGINAL_SIZE:
        raise InvalidValueError(f"image_size must be an integer in 1..{ORIGINAL_SIZE}, got "
                         f"{image_size!r}.")
    cache = None if cache_dir is False else Path(
        cache_dir if cache_dir is not None else keras_cache_dir() / _CACHE_SUBDIR)

    dirs = candidate_dirs(path, "omniglot")
    zips = {name: _find_zip(dirs, name) for name in names}
    notes = {}
    for name in [n for n in names if zips[n] is None]:
        zips[name], notes[name] = _download(name, path, download)
    missing = [n for n in names if zips[n] is None]
    if missing:
        raise DataNotFoundError(_not_found_message(missing, dirs, notes))
    parts = [_load_set(zips[n], n, int(image_size), verify, cache) for n in names]
    return _combine(names, parts)


# ---- finding and fetching the zips ----------------------------------------------------------


def _find_zip(dirs: list[Path], name: str) -> Path | None:
    for place in dirs:
        if place.is_file() and place.name == f"{name}.zip":
            return place
        if place.is_dir() and (place / f"{name}.zip").is_file():
            return place / f"{name}.zip"
    return None


def _download(name: str, path, download: bool) -> tuple[Path | None, str]:
    if path is not None:
        return None, "download: not attempted (an explicit path was given)"
    if not download:
        return None, "download: disabled (download=False)"
    cache = keras_cache_dir()
    try:
        from keras.utils import get_file  # Imported lazily: Keras is slow to import.

        local = get_file(fname=f"{name}.zip", origin=OMNIGLOT_URL.format(name),
                         file_hash=OMNIGLOT_CHECKSUMS[name], cache_dir=str(cache.parent),
                         cache_subdir=cache.name)
    except Exception as e:  # Offline, HTTP error, bad hash: all reported in the error below.
        return None, f"download of {OMNIGLOT_URL.format(name)} failed: {type(e).__name__}: {e}"
    return Path(local), "download: succeeded"


def _not_found_message(missing: list[str], dirs: list[Path], notes: dict[str, str]) -> str:
    lines = [f"Could not find the Omniglot zip(s) {', '.join(f'{n}.zip' for n in missing)}. "
             "Looked in:"]
    for place in dirs:
        if place.is_file():
            lines.append(f"  {place}: a file, but not {' or '.join(f'{n}.zip' for n in missing)}")
        elif not place.is_dir():
            lines.append(f"  {place}: no such directory")
        else:
            extracted = [n for n in missing if (place / n).is_dir()]
            hint = (f" (found the extracted folder(s) {', '.join(extracted)}/; the loader reads "
                    "the zips themselves: put the .zip files here)") if extracted else ""
            lines.append(f"  {place}: no {', '.join(f'{n}.zip' for n in missing)}{hint}")
    lines += [f"  {notes[n]}" for n in missing if n in notes]
    lines += [
        "To fix this, do one of:",
        "  - pass path=... naming a directory that holds the zips (or an 'omniglot' folder "
        "with them);",
        f"  - set {DATA_DIR_ENV} to such a directory;",
        f"  - download them from {OMNIGLOT_URL.format('<set>')} into {keras_cache_dir()}, "
        "or call load_omniglot(download=True) with path=None while online.",
    ]
    return "\n".join(lines)


# ---- decoding, with a cache of decoded arrays ----------------------------------------------


def _load_set(zip_path: Path, name: str, size: int, verify: bool,
              cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """`(images [n, size, size] uint8, paths [n] "<Alphabet>/<character>/<file>")`."""
    digest = file_digest(zip_path, "md5")
    if verify and digest != OMNIGLOT_CHECKSUMS[name]:
        raise ChecksumError(
            f"{zip_path} has md5 {digest}, but the canonical {name}.zip has md5 "
            f"{OMNIGLOT_CHECKSUMS[name]}. The file is corrupt or only partially downloaded: "
            "delete it and download it again (or pass verify=False if you built it yourself).")
    cached = None if cache is None else cache / f"{name}-{digest}-{size}px-v{_CACHE_VERSION}.npz"
    if cached is not None and cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as f:
                return f["images"], f["paths"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # A damaged cache file is rebuilt below.
    images, paths = _decode_zip(zip_path, name, size)
    if cached is not None:
        _write_atomically(cached, images=images, paths=paths)
    return images, paths


def _decode_zip(zip_path: Path, name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as e:
        raise ImportError("Decoding Omniglot needs Pillow: pip install pillow") from e
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise CorruptDataError(f"{zip_path} is not a readable zip archive ({type(e).__name__}: "
                               f"{e}). Delete it and download it again.") from e
    with archive:
        members = sorted(
            m.filename for m in archive.infolist()
             if not m.is_dir() and m.filename.lower().endswith(".png")
             and not m.filename.startswith("__MACOSX/"))
        wrong = [m for m in members if len(m.split("/")) != 4 or m.split("/")[0] != name]
        if not members or wrong:
            example = (wrong or [m.filename for m in archive.infolist()] or ["(empty zip)"])[:3]
            raise CorruptDataError(
                f"{zip_path} does not have the canonical Omniglot layout "
                f"{name}/<Alphabet>/<character>/<drawer>.png: "
                + (f"{len(wrong)} PNGs lie elsewhere, e.g. {example}." if wrong else
                   f"it holds no PNG images (members: {example}).")
                + f" Use the original {name}.zip from {OMNIGLOT_URL.format(name)}.")
        images = np.empty((len(members), size, size), np.uint8)
        for i, member in enumerate(members):
            try:
                with Image.open(io.BytesIO(archive.read(member))) as image:
                    grey = image.convert("L")
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
                    UnidentifiedImageError) as e:
                raise CorruptDataError(
                    f"{zip_path}: cannot read {member} ({type(e).__name__}: {e}). The zip is "
                    "damaged: delete it and download it again.") from e
            if grey.size != (size, size):
                grey = grey.resize((size, size), Image.Resampling.BOX)
            images[i] = 255 - np.asarray(grey)
    paths = np.array([m.split("/", 1)[1] for m in members])
    _drawers(paths, zip_path)  # fail now, not later, on file names without a drawer number
    return images, paths


def _write_atomically(target: Path, **arrays: np.ndarray) -> None:
    """Writes an `.npz` under a temporary name and renames it, so readers never see half a
    file; a cache that cannot be written only costs speed, so that is a warning."""
    try:
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except OSError as e:
        warnings.warn(f"Could not cache decoded Omniglot images at {target} ({e}); they will "
                      "be decoded again next time. Pass cache_dir=... to use another folder.",
                      stacklevel=3)


def _drawers(paths: np.ndarray, source) -> np.ndarray:
    stems = [p.rsplit("/", 1)[-1].rsplit(".", 1)[0] for p in paths]
    try:
        return np.array([int(s.rsplit("_", 1)[1]) for s in stems], np.int32)
    except (IndexError, ValueError) as e:
        bad = [s for s in stems if "_" not in s or not s.rsplit("_", 1)[1].isdigit()][:3]
        raise CorruptDataError(
            f"{source}: Omniglot image files are named <character id>_<drawer>.png, but found "
            f"{bad}. Use the original zip.") from e


def _combine(names: tuple[str, ...], parts: list[tuple[np.ndarray, np.ndarray]]) -> Omniglot:
    paths = np.concatenate([p for _, p in parts])
    sets = np.concatenate([np.full(len(p), i, np.int32) for i, (_, p) in enumerate(parts)])
    # The small sets overlap each other and images_background (small1 and small2 share Greek
    # and Latin): an image in several loaded sets is kept once, from the first of them.
    keep = np.sort(np.unique(paths, return_index=True)[1])
    paths, sets = paths[keep], sets[keep]
    split = np.char.split(paths, "/")
    alphabet_names, alphabets = np.unique([s[0] for s in split], return_inverse=True)
    character_names, characters = np.unique([f"{s[0]}/{s[1]}" for s in split],
                                            return_inverse=True)
    characters = characters.astype(np.int32)
    return Omniglot(
        images=np.concatenate([im for im, _ in parts])[keep],
        characters=characters,
        alphabets=alphabets.astype(np.int32),
        drawers=_drawers(paths, "Omniglot"),
        sets=sets,
        base_characters=characters.copy(),
        rotations=np.zeros(len(paths), np.int32),
        character_names=tuple(character_names.tolist()),
        alphabet_names=tuple(alphabet_names.tolist()),
        set_names=names,
    )
