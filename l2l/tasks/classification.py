"""N-way K-shot classification from any labelled array: the few-shot classification family.

One episode is one N-way task: `ways` classes drawn at random from the allowed classes, with
`shots` support examples and `queries` query examples of each class, all distinct. The
library's convention for classification episodes, which every classification learner,
predictor and metric in l2l follows:

- `support_y [B, S]` and `query_y [B, Q]` are int32 class *indices* `0 .. ways-1`, not the
  dataset's class ids. Each episode relabels its classes with a fresh random permutation, so a
  model cannot memorise "class 17 is index 3": it must read the labels from the support set.
- The support set has `S = ways * max_shots` slots. With ragged shots, `shots=(min, max)`,
  each episode draws one `k` in `[min, max]` and shows `k` examples of every class; the other
  slots are padding: `support_mask` 0, `support_x` all zeros, `support_y` 0.
- Support examples are shuffled (`shuffle=True`, the default): the real ones come first in a
  random order and the padding last, so a sequence learner reads the classes interleaved and
  can stop at the first masked slot. With `shuffle=False` they come class by class
  (index 0 first), padding still last.
- The query set has `Q = ways * queries` examples, shuffled too unless `shuffle=False`.
- `support_x`/`query_x` are `[B, n, ...]` with the dtype and example shape of `x`
  (add a channel axis, `x[..., None]`, for convolutional encoders of grey images).
- Predictors for this family output logits `[B, Q, ways]`; `l2l.evaluation`'s "accuracy"
  metric scores them by argmax.

Evaluation must use classes never seen in training: `class_splits` splits the class ids into
disjoint train/val/test sets with the recorded `CLASS_SPLIT_SEED`, and `classes=` restricts a
task to one split. `sample_with_info` (and `episodes(..., with_info=True)`) also returns the
original class id behind each index and the row of `x` behind each example.

Example:

>>> import numpy as np
>>> from l2l.tasks import FewShotClassification, class_splits
>>> x = np.random.default_rng(0).normal(size=(600, 8)).astype("float32")
>>> labels = np.arange(600) % 30
>>> splits = class_splits(labels)
>>> [len(splits[s]) for s in ("train", "val", "test")]
[21, 4, 5]
>>> task = FewShotClassification(x, labels, ways=5, shots=2, queries=3,
...                              classes=splits["train"])
>>> ep = task.episodes(batch_size=4, seed=0)
>>> ep.support_x.shape, ep.support_y.shape, ep.query_x.shape, ep.query_y.dtype
((4, 10, 8), (4, 10), (4, 15, 8), dtype('int32'))
>>> sorted(np.bincount(ep.query_y[0]).tolist())
[3, 3, 3, 3, 3]
"""

from __future__ import annotations

import numpy as np

from l2l.episodes import Episode
from l2l.errors import InvalidValueError
from l2l.tasks.base import TaskDistribution, check_shots, fraction_split, random_subsets
from l2l.tasks.splits import CLASS_SPLIT_SEED
from l2l.tasks.splits import SPLIT_FRACTIONS as CLASS_SPLIT_FRACTIONS

_PAD = 2.0  # sort key offset that moves padding slots behind every real one (keys are < 1)


def class_splits(
    labels: np.ndarray,
    fractions: tuple[float, ...] = CLASS_SPLIT_FRACTIONS,
    seed: int = CLASS_SPLIT_SEED,
    names: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Disjoint sets of class ids, one per split, together all classes of `labels`.

    Args:
        labels: per-example labels or the class ids themselves (only the distinct values count).
        fractions: share of the classes in each split; they must sum to 1.
        seed: the split seed; keep the default to compare with published l2l figures.
        names: split names; by default `("train", "val", "test")` for three fractions and
            `("train", "test")` for two.

    Returns:
        `{name: sorted class ids}`.

    >>> {k: v.tolist() for k, v in class_splits(range(10), (0.8, 0.2)).items()}
    {'train': [0, 1, 2, 3, 5, 6, 8, 9], 'test': [4, 7]}
    """
    ids = np.unique(np.asarray(labels))
    if ids.size == 0:
        raise InvalidValueError(
            "class_splits got no labels: pass the labels (or class ids) to split.")
    if names is None:
        defaults = {3: ("train", "val", "test"), 2: ("train", "test")}
        if len(fractions) not in defaults:
            raise InvalidValueError(f"Name the {len(fractions)} splits with names=(...).")
        names = defaults[len(fractions)]
    if len(names) != len(fractions) or len(set(names)) != len(names):
        raise InvalidValueError(
            f"names {names!r} must be {len(fractions)} distinct split names, one "
                         f"per fraction in {fractions!r}.")
    parts = fraction_split(ids, np.random.default_rng([seed, 0]), fractions)
    for name, fraction, part in zip(names, fractions, parts, strict=True):
        if fraction > 0 and part.size == 0:
            raise InvalidValueError(
                f"The {name!r} split got no classes: {ids.size} classes are too few for "
                f"fractions {tuple(fractions)}. Use more classes or larger fractions.")
    return dict(zip(names, parts, strict=True))


def _check_labelled(x: np.ndarray, labels: np.ndarray) -> None:
    if x.ndim < 1 or len(x) == 0:
        raise InvalidValueError(f"x must be an array of examples [N, ...] with N >= 1, got shape "
                         f"{x.shape}.")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidValueError(f"labels must be a 1-D integer array [N], got {labels.dtype} "
                         f"{labels.shape}.")
    if len(labels) != len(x):
        raise InvalidValueError(f"x has {len(x)} examples but labels has {len(labels)}: give one "
                         "label per example.")
    if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.complexfloating):
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InvalidValueError(
                f"x contains NaN or infinite values in {rows.size} examples (first rows "
                f"{rows[:5].tolist()}, labels {labels[rows[:5]].tolist()}); clean or drop them.")


class FewShotClassification(TaskDistribution):
    """Episodes of N-way K-shot classification drawn from a labelled array.

    Args:
        x: `[N, ...]` examples of any dtype and shape (images, feature vectors, ...).
        labels: `[N]` integer class ids (any values, need not be contiguous).
        ways: classes per episode, at least 2.
        shots: support examples per class, or `(min, max)`: each episode draws its own number
            of shots in that range and pads the support set to `max` (see the module docstring).
        queries: query examples per class.
        classes: the class ids episodes may draw from (e.g. `class_splits(labels)["train"]`);
            `None` means every class in `labels`.
        shuffle: shuffle the support and query sets of each episode (see the module docstring).

    The module docstring states the episode convention. Class ids must each have at least
    `max_shots + queries` examples, since an episode never shows an example twice.
    """

    def __init__(
        self,
        x: np.ndarray,
        labels: np.ndarray,
        ways: int = 5,
        shots: int | tuple[int, int] = 1,
        queries: int = 1,
        classes: np.ndarray | None = None,
        shuffle: bool = True,
    ):
        x, labels = np.asarray(x), np.asarray(labels)
        _check_labelled(x, labels)
        self.min_shots, self.max_shots = check_shots(shots)
        if int(queries) != queries or queries < 1:
            raise InvalidValueError(
                f"queries (per class) must be an integer >= 1, got {queries!r}.")
        if int(ways) != ways or ways < 2:
            raise InvalidValueError(f"ways must be an integer >= 2 (a 1-way task has nothing to "
                             f"classify), got {ways!r}.")
        self.ways, self.queries, self.shuffle = int(ways), int(queries), bool(shuffle)

        present = np.unique(labels)
        if classes is None:
            classes = present
        else:
            classes = np.asarray(classes)
            if classes.size == 0:
                raise InvalidValueError(
                    "classes is empty: give the class ids episodes may draw from, "
                                 "or None for all classes.")
            if classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer):
                raise InvalidValueError(f"classes must be a 1-D array of integer class ids, got "
                                 f"{classes.dtype} {classes.shape}.")
            classes = np.unique(classes)
            absent = classes[~np.isin(classes, present)]
            if absent.size:
                raise InvalidValueError(
                    f"classes {absent[:10].tolist()} have no examples in labels "
                                 f"({absent.size} of {classes.size} requested classes).")
        if self.ways > classes.size:
            raise InvalidValueError(f"ways={self.ways} needs at least {self.ways} classes but only "
                             f"{classes.size} are available; lower ways or allow more classes.")
        self.classes = classes

        rows = np.flatnonzero(np.isin(labels, classes))
        rows = rows[np.argsort(labels[rows], kind="stable")]
        counts = np.bincount(np.searchsorted(classes, labels[rows]), minlength=classes.size)
        need = self.max_shots + self.queries
        if counts.min() < need:
            small = np.argmin(counts)
            raise InvalidValueError(
                f"Class {classes[small]} has only {counts[small]} examples, but every class "
                f"needs shots + queries = {self.max_shots} + {self.queries} = {need} distinct "
                f"examples per episode ({np.sum(counts < need)} classes have fewer). Lower "
                "shots or queries, or leave such classes out with classes=...")
        # Row of x of the j-th example of class i: table[i, j], for j < counts[i].
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        cols = np.arange(counts.max())
        self._table = rows[np.minimum(starts[:, None] + cols, len(rows) - 1)]
        self._counts = counts
        self._x = x

    @property
    def support_size(self) -> int:
        """Support slots per episode: `ways * max_shots` (padding included)."""
        return self.ways * self.max_shots

    @property
    def query_size(self) -> int:
        """Queries per episode: `ways * queries`."""
        return self.ways * self.queries

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        return self.sample_with_info(batch_size, rng)[0]

    def sample_with_info(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[Episode, dict[str, np.ndarray]]:
        """Episodes plus `info`: `classes [B, ways]` (the class id behind each index) and
        `support_index [B, S]` / `query_index [B, Q]` (the row of `x` behind each example,
        -1 for padding)."""
        b, w, k, q = batch_size, self.ways, self.max_shots, self.queries
        chosen = random_subsets(rng.random((b, self.classes.size)), w)  # [B, W], random order
        counts = self._counts[chosen]
        keys = rng.random((b, w, self._table.shape[1]))
        keys[np.arange(keys.shape[2]) >= counts[..., None]] = _PAD  # never pick beyond a class
        picks = random_subsets(keys, k + q)  # [B, W, K+Q] positions within each class
        rows = self._table[chosen[..., None], picks]

        shots = rng.integers(self.min_shots, self.max_shots + 1, size=b)
        real = np.broadcast_to(np.arange(k) < shots[:, None, None], (b, w, k)).reshape(b, -1)
        support_rows = rows[..., :k].reshape(b, -1)
        support_y = np.broadcast_to(np.arange(w, dtype=np.int32)[:, None], (b, w, k)).reshape(b, -1)
        order_keys = rng.random(real.shape) if self.shuffle else np.broadcast_to(
            np.arange(w * k) / (w * k), real.shape)
        order = np.argsort(order_keys + _PAD * ~real, axis=1, kind="stable")
        real = np.take_along_axis(real, order, axis=1)
        support_rows = np.where(real, np.take_along_axis(support_rows, order, axis=1), -1)
        support_y = np.take_along_axis(support_y, order, axis=1) * real

        query_rows = rows[..., k:].reshape(b, -1)
        query_y = np.broadcast_to(np.arange(w, dtype=np.int32)[:, None], (b, w, q)).reshape(b, -1)
        if self.shuffle:
            order = np.argsort(rng.random(query_rows.shape), axis=1)
            query_rows = np.take_along_axis(query_rows, order, axis=1)
            query_y = np.take_along_axis(query_y, order, axis=1)

        support_x = self._x[np.maximum(support_rows, 0)]
        support_x[~real] = 0
        episode = Episode(
            support_x=support_x,
            support_y=support_y.astype(np.int32),
            query_x=self._x[query_rows],
            query_y=query_y.astype(np.int32),
            support_mask=real.astype("float32"),
        )
        info = {"classes": self.classes[chosen], "support_index": support_rows,
                "query_index": query_rows}
        return episode, info
