"""The two-digit same-number task: the proof of concept of the learner/predictor scheme.

A *number* 00-99 is drawn as two MNIST digit images side by side (a 28x56 image). One task is
one number: the support set holds `shots` images of it, and each query image shows either the
same number (label 1) or a different one (label 0), balanced 50/50. "Different" numbers are
drawn uniformly from the split, except that a fraction `hard_negative_fraction` of them share a
digit with the target (37 against 38, 57 or 73), which forces a model to read both digits.

The 100 numbers are split into train/val/test numbers once, with the recorded `SPLIT_SEED`, so
a model is always scored on numbers it never saw during training. Three protocols say how far
the test is from training:

- `original`: test numbers are new, but their digit images come from the same pool as the
  training images (the original experiment's setting).
- `strict`: the images are split too (per digit, 70/15/15), so test episodes show digit images
  never seen in training.
- `heldout-digits`: two digits never occur in a training number; val/test numbers contain at
  least one of them (a novel concept, not only a novel combination). Images split as `strict`.

Example:

>>> import warnings

import numpy as np
>>> from l2l.tasks import TwoDigitTask
>>> rng = np.random.default_rng(0)
>>> images = rng.integers(0, 256, size=(500, 28, 28), dtype=np.uint8)
>>> labels = np.arange(500) % 10
>>> task = TwoDigitTask(images, labels, split="train", protocol="strict", shots=1, queries=4)
>>> ep = task.episodes(batch_size=8, seed=0)
>>> ep.support_x.shape, ep.query_x.shape, ep.query_y.mean()
((8, 1, 28, 56, 1), (8, 4, 28, 56, 1), np.float32(0.5))
"""

from __future__ import annotations

import warnings

import numpy as np

from l2l.episodes import Episode
from l2l.errors import InvalidValueError, invalid_value
from l2l.tasks.augment import check_augment, shift_rotate
from l2l.tasks.base import TaskDistribution, check_shots, fraction_split
from l2l.tasks.splits import SPLIT_FRACTIONS
from l2l.tasks.splits import SPLIT_NAMES as SPLITS
from l2l.tasks.splits import TWO_DIGIT_SPLIT_SEED as SPLIT_SEED

PROTOCOLS = ("original", "strict", "heldout-digits")
NUM_HELDOUT_DIGITS = 2


def _check(protocol: str, split: str | None = None) -> None:
    if protocol not in PROTOCOLS:
        raise InvalidValueError(f"Unknown protocol {protocol!r}; choose one of {PROTOCOLS}.")
    if split is not None and split not in SPLITS:
        raise InvalidValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")


def heldout_digits(seed: int = SPLIT_SEED) -> np.ndarray:
    """The digits that no training number contains under the `heldout-digits` protocol."""
    rng = np.random.default_rng([seed, 2])
    return np.sort(rng.choice(10, NUM_HELDOUT_DIGITS, replace=False))


def number_splits(protocol: str = "original", seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """The numbers 0-99 of each split: disjoint, together all 100.

    `original` and `strict` split 70/15/15 at random; `heldout-digits` trains on the 64
    numbers made of the other eight digits and splits the remaining 36 evenly into val/test.
    """
    _check(protocol)
    numbers = np.arange(100)
    if protocol != "heldout-digits":
        parts = fraction_split(numbers, np.random.default_rng([seed, 0]), SPLIT_FRACTIONS)
        return dict(zip(SPLITS, parts, strict=True))
    held = heldout_digits(seed)
    novel = np.isin(numbers // 10, held) | np.isin(numbers % 10, held)
    rest = np.random.default_rng([seed, 0]).permutation(numbers[novel])
    half = len(rest) // 2
    return {"train": numbers[~novel], "val": np.sort(rest[:half]), "test": np.sort(rest[half:])}


def image_pools(labels: np.ndarray, protocol: str = "original",
                seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Indices of the digit images each split may draw from.

    `original` lets every split use every image; the other protocols split the images of each
    digit 70/15/15, so the pools are disjoint.
    """
    _check(protocol)
    labels = np.asarray(labels)
    everything = np.arange(len(labels))
    if protocol == "original":
        return dict.fromkeys(SPLITS, everything)
    rng = np.random.default_rng([seed, 1])
    parts = [fraction_split(everything[labels == d], rng, SPLIT_FRACTIONS) for d in range(10)]
    return {s: np.sort(np.concatenate([p[i] for p in parts])) for i, s in enumerate(SPLITS)}


def _hard_negative_table(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each number, the split's other numbers that share a digit with it (or swap them)."""
    tens, ones = numbers // 10, numbers % 10
    related = (tens[:, None] == tens) | (ones[:, None] == ones) | (
        (tens[:, None] == ones) & (ones[:, None] == tens))
    related &= numbers[:, None] != numbers
    counts = related.sum(axis=1)
    table = np.zeros((len(numbers), max(1, counts.max())), dtype=np.int64)
    for i, row in enumerate(related):  # once per split, at construction
        table[i, : counts[i]] = numbers[row]
    return table, counts


class TwoDigitTask(TaskDistribution):
    """A task distribution: episodes of "is the query the same number as the support images?".

    Each episode is a new task (a new number of the split), drawn from this distribution.

    Args:
        images: `[N, 28, 28]` uint8 digit images (e.g. from `l2l.datasets.load_mnist`).
        labels: `[N]` digit labels 0-9.
        split: `"train"`, `"val"` or `"test"`: which numbers (and images) episodes use.
        protocol: `"original"`, `"strict"` or `"heldout-digits"` (see the module docstring).
        shots: support images per episode, or `(min, max)` for a ragged support set padded to
            `max` and masked.
        queries: query images per episode, an even number: half same, half different.
        hard_negative_fraction: share of "different" queries that share a digit with the target.
        split_seed: which numbers and images land in which split (`l2l.tasks.splits`); keep
            the default to compare with published l2l figures. Not the seed of the episode
            stream, which `episodes`/`dataset(seed=...)` take.
        augment: `(max_shift_pixels, max_degrees)`: jitter every digit image of an episode
            on its own (`l2l.tasks.augment.shift_rotate`, never a flip), for training
            episodes; `None` (the default) draws the images as they are.
        turns: quarter turns to choose from, e.g. `(0, 1, 3)`: each episode turns the left
            and the right digit of ALL its images by its own draw of these, so an episode may
            be about a new concept (a digit on its side). The answers stay right, since every
            image of the episode turns alike. For training episodes; `None`: no turns.
        seed: deprecated name of `split_seed`.

    Episodes hold `support_x`/`query_x` as `[B, n, 28, 56, 1]` uint8 and `support_y`/`query_y`
    as `[B, n]` float32 (support labels are all 1: every support image shows the number).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        split: str = "train",
        protocol: str = "original",
        shots: int | tuple[int, int] = 1,
        queries: int = 2,
        hard_negative_fraction: float = 0.5,
        split_seed: int = SPLIT_SEED,
        *,
        augment: tuple[float, float] | None = None,
        turns: tuple[int, ...] | None = None,
        seed: int | None = None,
    ):
        if seed is not None:
            warnings.warn("TwoDigitTask(seed=) is deprecated: it is the split seed, now "
                          "split_seed= (the stream seed is dataset(seed=)).",
                          DeprecationWarning, stacklevel=2)
            split_seed = seed
        _check(protocol, split)
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise InvalidValueError(
                f"images must be uint8 digits of shape [N, 28, 28], got {images.dtype} "
                f"{images.shape}; load them with l2l.datasets.load_mnist()."
            )
        if labels.shape != (len(images),):
            raise invalid_value("labels", labels, f"one digit per image, shape [{len(images)}]")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise invalid_value("labels", labels, "digits 0-9")
        self.min_shots, self.max_shots = check_shots(shots)
        if queries < 2 or queries % 2:
            raise InvalidValueError(
                f"queries must be an even number >= 2 (half same, half different), "
                             f"got {queries}.")
        if not 0.0 <= hard_negative_fraction <= 1.0:
            raise invalid_value("hard_negative_fraction", hard_negative_fraction,
                                "a share in [0, 1]")
        self.split, self.protocol, self.queries = split, protocol, queries
        self.hard_negative_fraction = hard_negative_fraction
        self.augment = check_augment(augment)
        self.turns = None if turns is None else np.asarray(turns, np.int64)
        if self.turns is not None and (self.turns.ndim != 1 or not self.turns.size
                                       or not np.isin(self.turns, (0, 1, 2, 3)).all()):
            raise invalid_value("turns", turns, "quarter turns among 0, 1, 2, 3, e.g. (0, 1, 3)")
        self.numbers = number_splits(protocol, split_seed)[split]
        self._hard_table, self._hard_counts = _hard_negative_table(self.numbers)

        pool = image_pools(labels, protocol, split_seed)[split]
        pool_labels = labels[pool]
        order = np.argsort(pool_labels, kind="stable")
        # Digit images of the pool, grouped by digit: digit d owns [start[d], start[d]+count[d]).
        self._digit_images = images[pool[order]]
        self._count = np.bincount(pool_labels, minlength=10)
        self._start = np.concatenate([[0], np.cumsum(self._count)[:-1]])
        needed = np.union1d(self.numbers // 10, self.numbers % 10)
        missing = needed[self._count[needed] == 0]
        if missing.size:
            raise InvalidValueError(f"The {split} image pool has no images of digit(s) "
                             f"{missing.tolist()}; give images of every digit.")

    def config(self) -> dict:
        """`TaskDistribution.config`, without `augment`/`turns` when they are unset: episode
        sets stored before those options existed stay valid."""
        config = super().config()
        for name in ("augment", "turns"):
            if config.get(name) is None:
                config.pop(name, None)
        return config

    def _draw_images(self, numbers: np.ndarray, rng: np.random.Generator,
                     turns: np.ndarray | None = None) -> np.ndarray:
        """One random image of each number in `numbers` (`[B, n]`) -> `[B, n, 28, 56, 1]`,
        the left/right digits of episode b turned by `turns[b]` quarter turns."""
        digits = np.stack([numbers // 10, numbers % 10])
        picks = self._start[digits] + (rng.random(digits.shape) * self._count[digits]).astype(
            np.int64)
        tens, ones = self._digit_images[picks]
        if self.augment is not None:
            tens, ones = shift_rotate(np.stack([tens, ones]), rng, *self.augment)
        if turns is not None:
            tens, ones = tens.copy(), ones.copy()
            for side, tiles in enumerate((tens, ones)):
                for k in np.unique(turns[:, side]):
                    chosen = turns[:, side] == k
                    tiles[chosen] = np.rot90(tiles[chosen], k, axes=(-2, -1))
        return np.concatenate([tens, ones], axis=-1)[..., None]

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        n, q = len(self.numbers), self.queries
        target_index = rng.integers(n, size=batch_size)
        target = self.numbers[target_index]

        same = np.zeros((batch_size, q), dtype=bool)
        same[:, : q // 2] = True
        same = np.take_along_axis(same, np.argsort(rng.random((batch_size, q)), axis=1), axis=1)
        other = rng.integers(n - 1, size=(batch_size, q))
        uniform = self.numbers[other + (other >= target_index[:, None])]
        counts = self._hard_counts[target_index][:, None]
        pick = (rng.random((batch_size, q)) * counts).astype(np.int64)
        hard = self._hard_table[target_index[:, None], pick]
        use_hard = (rng.random((batch_size, q)) < self.hard_negative_fraction) & (counts > 0)
        query_numbers = np.where(same, target[:, None], np.where(use_hard, hard, uniform))

        shots = rng.integers(self.min_shots, self.max_shots + 1, size=batch_size)
        mask = (np.arange(self.max_shots) < shots[:, None]).astype("float32")
        support_numbers = np.repeat(target[:, None], self.max_shots, axis=1)
        turns = None if self.turns is None else rng.choice(self.turns, (batch_size, 2))
        support_x = self._draw_images(support_numbers, rng, turns) * mask[
            ..., None, None, None].astype(np.uint8)
        return Episode(
            support_x=support_x,
            support_y=mask.copy(),
            query_x=self._draw_images(query_numbers, rng, turns),
            query_y=same.astype("float32"),
            support_mask=mask,
        )
