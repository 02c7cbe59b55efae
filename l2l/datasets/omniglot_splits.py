"""Omniglot's class splits: which character classes train, validate and test a meta-learner.

`alphabet_splits` keeps whole alphabets apart (a test alphabet is a new writing system);
`character_splits` keeps characters apart and shares alphabets (the protocol of most few-shot
papers). Both keep the rotated copies of one character (`Omniglot.rotated`) in one split, cut
with the split conventions of `l2l.tasks.splits`, and return `{split: sorted class ids}` for
`FewShotClassification(classes=...)`.

Example, on four characters of two alphabets, each rotated into four classes:

>>> import numpy as np
>>> from l2l.datasets import Omniglot
>>> ids = np.arange(4, dtype=np.int32)
>>> data = Omniglot(images=np.zeros((4, 2, 2), np.uint8), characters=ids,
...                 alphabets=np.array([0, 0, 1, 1], np.int32), drawers=ids + 1,
...                 sets=0 * ids, base_characters=ids, rotations=0 * ids,
...                 character_names=("A/c1", "A/c2", "B/c1", "B/c2"),
...                 alphabet_names=("A", "B"), set_names=("images_background",)).rotated()
>>> {k: v.tolist() for k, v in alphabet_splits(data, fractions=(0.5, 0.5)).items()}
{'train': [8, 9, 10, 11, 12, 13, 14, 15], 'test': [0, 1, 2, 3, 4, 5, 6, 7]}
>>> sorted(len(v) for v in character_splits(data, fractions=(0.5, 0.5)).values())
[8, 8]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from l2l.tasks.splits import OMNIGLOT_SPLIT_SEED, SPLIT_FRACTIONS

if TYPE_CHECKING:
    from l2l.datasets.omniglot_data import Omniglot


def alphabet_splits(data: Omniglot, fractions: tuple[float, ...] = SPLIT_FRACTIONS,
                    seed: int = OMNIGLOT_SPLIT_SEED) -> dict[str, np.ndarray]:
    """The character classes of each split, splitting by alphabet: no split shares one.

    A test alphabet is a new writing system, the hardest Omniglot protocol. Returns
    `{split: sorted class ids}` (values of `data.characters`), for `FewShotClassification(
    classes=...)`; rotated copies of a character go with its alphabet. The module docstring
    has an example.
    """
    from l2l.tasks.classification import class_splits  # tasks build on datasets, not back

    parts = class_splits(data.alphabets, fractions, seed)
    return {k: np.unique(data.characters[np.isin(data.alphabets, v)]) for k, v in parts.items()}


def character_splits(data: Omniglot, fractions: tuple[float, ...] = SPLIT_FRACTIONS,
                     seed: int = OMNIGLOT_SPLIT_SEED) -> dict[str, np.ndarray]:
    """The character classes of each split, splitting by character (alphabets are shared).

    The protocol of most Omniglot few-shot papers (e.g. 1200 training characters of 1623 in
    Vinyals et al., 2016). All rotations of one character land in the same split, so a test
    class is never a rotated training class. Returns `{split: sorted class ids}`.
    """
    from l2l.tasks.classification import class_splits

    parts = class_splits(data.base_characters, fractions, seed)
    return {k: np.unique(data.characters[np.isin(data.base_characters, v)])
            for k, v in parts.items()}
