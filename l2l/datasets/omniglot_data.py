"""What `l2l.datasets.load_omniglot` returns: the `Omniglot` record of images and labels.

One row per image, with its character class, alphabet, drawer and source zip. `rotated` adds
rotated copies of every character as new classes (the common augmentation of Santoro et al.,
2016; Vinyals et al., 2016); `l2l.datasets.omniglot_splits` splits the classes.

Example, two characters of one alphabet:

>>> import numpy as np
>>> ids = np.arange(2, dtype=np.int32)
>>> data = Omniglot(images=np.zeros((2, 2, 2), np.uint8), characters=ids, alphabets=0 * ids,
...                 drawers=ids + 1, sets=0 * ids, base_characters=ids, rotations=0 * ids,
...                 character_names=("A/c1", "A/c2"), alphabet_names=("A",),
...                 set_names=("images_background",))
>>> half = data.rotated((0, 2))  # character c, turn r -> class 2c + r
>>> half.num_classes, half.characters.tolist(), half.character_names[1]
(4, [0, 2, 1, 3], 'A/c1/rot180')
"""

from __future__ import annotations

import dataclasses

import numpy as np

from l2l.errors import InvalidValueError


@dataclasses.dataclass(frozen=True)
class Omniglot:
    """Omniglot images and labels, one row per image.

    Attributes:
        images: `[N, size, size]` uint8, ink 255 on background 0.
        characters: `[N]` int32 class ids, indices into `character_names`.
        alphabets: `[N]` int32 indices into `alphabet_names`.
        drawers: `[N]` int32 drawer numbers 1-20 (from the file name `<id>_<drawer>.png`).
        sets: `[N]` int32 indices into `set_names`: the zip each image came from.
        base_characters: `[N]` int32 class id before rotation (equal to `characters` unless
            `rotated` made new classes); splits group a character's rotations by it.
        rotations: `[N]` int32 quarter turns applied (0 unless `rotated`).
        character_names: `"<Alphabet>/<character>"` (plus `"/rot<degrees>"` when rotated).
        alphabet_names, set_names: names behind the indices.
    """

    images: np.ndarray
    characters: np.ndarray
    alphabets: np.ndarray
    drawers: np.ndarray
    sets: np.ndarray
    base_characters: np.ndarray
    rotations: np.ndarray
    character_names: tuple[str, ...]
    alphabet_names: tuple[str, ...]
    set_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        """Number of character classes (rotated copies count as classes of their own)."""
        return len(self.character_names)

    def rotated(self, quarter_turns: tuple[int, ...] = (0, 1, 2, 3)) -> Omniglot:
        """Every image rotated by each of `quarter_turns` x 90 degrees, as a new class.

        Character `c` rotated by `quarter_turns[r]` becomes class `c * R + r` (`R` turns), so
        `characters // R` is the unrotated class (also kept as `base_characters`); alphabets,
        drawers and sets are kept. The module docstring has an example.
        """
        turns = np.asarray(quarter_turns)
        if (turns.ndim != 1 or turns.size == 0 or not np.issubdtype(turns.dtype, np.integer)
                or len(set(turns.tolist())) != turns.size or not np.isin(turns, range(4)).all()):
            raise InvalidValueError(f"quarter_turns must be distinct integers in 0..3 (0, 90, 180, "
                             f"270 degrees), got {quarter_turns!r}.")
        if any(n.count("/") > 1 for n in self.character_names):
            raise InvalidValueError(
                "This Omniglot data is already rotated; rotate the original once.")
        r = turns.size
        tile = lambda a: np.concatenate([a] * r)  # noqa: E731
        return Omniglot(
            images=np.concatenate([np.rot90(self.images, int(t), axes=(1, 2)) for t in turns]),
            characters=np.concatenate([self.characters * r + i for i in range(r)]).astype(
                np.int32),
            alphabets=tile(self.alphabets),
            drawers=tile(self.drawers),
            sets=tile(self.sets),
            base_characters=tile(self.base_characters),
            rotations=np.repeat(turns, len(self)).astype(np.int32),
            character_names=tuple(f"{n}/rot{90 * int(t)}" for n in self.character_names
                                  for t in turns),
            alphabet_names=self.alphabet_names,
            set_names=self.set_names,
        )
