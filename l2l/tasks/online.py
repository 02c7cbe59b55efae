"""The online few-shot protocol (Santoro et al., 2016): classify each example before its label.

An episode is one sequence of `ways * instances` examples: `ways` classes (5 by default),
each shown `instances` times (10 by default), in a random order, with the class labels
permuted per episode (label `i` is a fresh random class in every episode). At step `t` a
model sees `x_t` together with the true label of step `t - 1` and must predict the label of
`x_t`; the first time a class appears it can only guess, the second time it has seen it once.
Accuracy is reported by *instance number*: over the steps where a class appears for the
1st, 2nd, ..., 10th time (`instance_numbers`, `per_instance_accuracy`).

As an `Episode` (so it streams, stores and batches like every l2l task family):

- `support_x [B, T, ...]` is the sequence and `support_y [B, T]` its int32 labels
  `0 .. ways-1`, `support_mask` all ones. Models shift the labels themselves (step `t`
  reads `y_{t-1}`, see `l2l.online`), so the labels sit beside their own examples;
- the query set is the sequence again (`query_x = support_x`, `query_y = support_y`): query
  `t` is step `t`, answered from `x_t` and the steps before it. `l2l.online.OnlineClassifier`
  makes that causal reading a model.

With `counts="random"` the classes' counts vary instead: the sequence keeps its length
`ways * instances`, and each step's class is drawn uniformly and independently, so a class
appears `instances` times on average. Draws where a class is missing, or appears more often
than the smallest class has examples to spare (`max_instances`), are drawn again. With equal
counts a model can learn that a class seen `instances` times will not come again; with random
counts the next label is independent of the ones before it, so there is no such prior to learn.

Episodes come from `FewShotClassification(shots=..., queries=1)` with its query dropped, so
the class choice, relabelling and draw of distinct examples are that family's, and a class
needs `instances + 1` examples (random counts: `max_instances + 1`). It works for any
labelled array: give Omniglot training classes with their rotations as new classes
(`Omniglot.rotated`), as the other Omniglot benchmarks do, and test classes from other
alphabets (`alphabet_splits`).

Example:

>>> import numpy as np
>>> from l2l.tasks import OnlineClassification
>>> x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
>>> task = OnlineClassification(x, np.arange(300) % 20, ways=3, instances=4)
>>> ep, info = task.episodes(batch_size=2, seed=0, with_info=True)
>>> ep.support_x.shape, ep.query_y.shape, bool((ep.query_x == ep.support_x).all())
((2, 12, 4), (2, 12), True)
>>> sorted(np.bincount(ep.support_y[0]).tolist()), int(info["instance"].max())
([4, 4, 4], 4)
>>> varied = OnlineClassification(x, np.arange(300) % 20, ways=3, instances=4, counts="random")
>>> ep = varied.episodes(batch_size=3, seed=0)
>>> ep.support_y.shape, [np.bincount(y).tolist() for y in ep.support_y], varied.max_instances
((3, 12), [[4, 1, 7], [5, 6, 1], [4, 3, 5]], 14)
"""

from __future__ import annotations

import numpy as np

from l2l.episodes import Episode
from l2l.errors import invalid_value
from l2l.tasks.base import TaskDistribution
from l2l.tasks.classification import FewShotClassification

INSTANCES_REPORTED = (1, 2, 3, 4, 5, 10)
"""The instance numbers Santoro et al. (2016, Table 1) report accuracy at."""

COUNTS = ("equal", "random")
"""How often each class appears in a sequence: `instances` times each, or drawn per step."""


class OnlineClassification(TaskDistribution):
    """Episodes of the online few-shot protocol drawn from a labelled array.

    Args:
        x: `[N, ...]` examples (images `[N, H, W, C]`, vectors, ...).
        labels: `[N]` integer class ids.
        ways: classes per sequence, at least 2.
        instances: appearances of every class in a sequence (length `ways * instances`).
        classes: the class ids sequences may draw from (a split); `None` for all.
        counts: `"equal"` (every class `instances` times) or `"random"` (each step's class
            drawn uniformly, every class at least once and at most `max_instances` times).

    `max_instances` is the most times a class can appear: `instances` for equal counts, and
    one less than the smallest allowed class's number of examples for random counts.
    `sample_with_info` adds `instance [B, T]` (see `instance_numbers`), `classes [B, ways]`
    (the class id behind each label) and `index [B, T]` (the row of `x` behind each step).
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, ways: int = 5, instances: int = 10,
                 classes: np.ndarray | None = None, counts: str = "equal"):
        if isinstance(instances, bool) or int(instances) != instances or instances < 1:
            raise invalid_value("instances", instances, "an integer >= 1 (appearances of each "
                                "class per sequence)")
        if counts not in COUNTS:
            raise invalid_value("counts", counts, f"one of {COUNTS}")
        self.instances, self.counts = int(instances), counts
        shots = self.instances
        if counts == "random":  # as many distinct examples per class as the smallest allows
            x, labels = np.asarray(x), np.asarray(labels)
            allowed = np.unique(labels) if classes is None else np.unique(classes)
            sizes = np.bincount(np.searchsorted(allowed, labels[np.isin(labels, allowed)]),
                                minlength=allowed.size)
            shots = int(sizes.min()) - 1 if sizes.min() else shots  # the draw names absent ids
            if shots < self.instances:
                raise invalid_value("instances", instances, f"at most {shots} with random "
                                    f"counts: the smallest class has {shots + 1} examples and "
                                    "one is kept back", "lower instances or drop small classes")
        self._draw = FewShotClassification(x, labels, ways=ways, shots=shots, queries=1,
                                           classes=classes, shuffle=counts == "equal")
        self.ways, self.classes, self.max_instances = (self._draw.ways, self._draw.classes,
                                                       shots)
        if counts == "random":  # rejection must succeed often enough to sample in finite time
            trial = np.random.default_rng(0).multinomial(
                self.length, np.full(self.ways, 1 / self.ways), size=1000)
            if _allowed(trial, shots).mean() < 0.01:
                raise invalid_value("instances", instances, f"well below max_instances={shots} "
                                    "with random counts, so that counts between 1 and "
                                    f"{shots} are drawn often (here under 1 in 100)",
                                    "lower instances or use counts='equal'")

    @property
    def length(self) -> int:
        """Steps per sequence, `ways * instances`."""
        return self.ways * self.instances

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        return self.sample_with_info(batch_size, rng)[0]

    def sample_with_info(self, batch_size: int, rng: np.random.Generator):
        drawn, info = self._draw.sample_with_info(batch_size, rng)
        x, y, rows = drawn.support_x, drawn.support_y, info["support_index"]
        if self.counts == "random":  # the draw came class by class: keep counts[c] of class c
            counts = _random_counts(batch_size, self.ways, self.length, self.max_instances, rng)
            keys = rng.random((batch_size, self.ways, self.max_instances))
            keys[np.arange(self.max_instances) >= counts[..., None]] = 2.0  # behind the rest
            keep = np.argsort(keys.reshape(batch_size, -1), axis=1)[:, :self.length]
            x, y, rows = (np.take_along_axis(a, keep.reshape(keep.shape + (1,) * (a.ndim - 2)),
                                             axis=1) for a in (x, y, rows))
        episode = Episode(support_x=x, support_y=y, query_x=x, query_y=y,
                          support_mask=np.ones(y.shape, "float32"))
        return episode, {"instance": instance_numbers(y), "classes": info["classes"],
                         "index": rows}

    def config(self) -> dict:
        """The base config plus the drawing family's (its arrays are fingerprinted there).

        Equal counts leave `counts` out, so the sets stored before the option existed keep
        their fingerprints."""
        config = {**super().config(), "draw": self._draw.config()}
        if self.counts == "equal":
            del config["counts"], config["max_instances"]
        return config


def _random_counts(batch_size: int, ways: int, length: int, most: int,
                   rng: np.random.Generator) -> np.ndarray:
    """`[B, ways]` class counts of `length` uniform draws, each in `1 .. most` (redrawn until)."""
    counts = np.zeros((batch_size, ways), int)
    while not (done := _allowed(counts, most)).all():
        counts[~done] = rng.multinomial(length, np.full(ways, 1.0 / ways), size=int((~done).sum()))
    return counts


def _allowed(counts: np.ndarray, most: int) -> np.ndarray:
    """`[B]`: every class of the row appears at least once and at most `most` times."""
    return ((counts >= 1) & (counts <= most)).all(axis=1)


def instance_numbers(labels: np.ndarray) -> np.ndarray:
    """`[B, T]` int32: at step `t`, how many times `labels[:, t]` has appeared up to `t`.

    1 at a class's first appearance, 2 at its second, ...: the bookkeeping behind accuracy
    by instance number.

    >>> instance_numbers(np.array([[2, 0, 2, 2, 0]])).tolist()
    [[1, 1, 2, 3, 2]]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise invalid_value("labels", labels, "an integer array [episodes, steps]")
    same = labels[:, :, None] == labels[:, None, :]  # [B, t, s]: step s has t's label
    earlier = np.tril(np.ones(same.shape[1:], bool))  # s <= t
    return (same & earlier).sum(axis=2).astype(np.int32)


def per_instance_accuracy(correct: np.ndarray, labels: np.ndarray,
                          instances: tuple[int, ...] | None = None) -> dict[int, dict]:
    """Accuracy at the n-th appearance of a class, with a 95% CI over episodes.

    `correct [B, T]` says whether each step was classified correctly and `labels [B, T]` are
    the sequences' labels. For each instance number `n` (by default every one that occurs),
    each episode's score is its accuracy over the steps that are some class's n-th
    appearance; the mean and interval (`l2l.evaluation.mean_ci95`) are taken over the
    episodes that have such steps. Returns `{n: {"mean", "ci95", "episodes", "steps"}}`.

    >>> acc = per_instance_accuracy(np.array([[0, 1, 1, 1]]), np.array([[0, 1, 0, 1]]))
    >>> acc[1]["mean"], acc[2]["mean"], acc[2]["steps"]
    (0.5, 1.0, 2)
    """
    from l2l.evaluation import mean_ci95

    correct = np.asarray(correct, "float64")
    number = instance_numbers(labels)
    if correct.shape != number.shape:
        raise invalid_value("correct", correct, f"one entry per step, shape {number.shape}")
    wanted = sorted(np.unique(number).tolist()) if instances is None else list(instances)
    result = {}
    for n in wanted:
        at = number == n
        has = at.any(axis=1)
        if not has.any():
            continue
        scores = (correct * at).sum(axis=1)[has] / at.sum(axis=1)[has]
        mean, ci = mean_ci95(scores)
        result[int(n)] = {"mean": mean, "ci95": ci, "episodes": int(has.sum()),
                          "steps": int(at.sum())}
    return result
