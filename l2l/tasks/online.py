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

Episodes come from `FewShotClassification(shots=instances, queries=1, shuffle=True)` with its
query dropped, so the class choice, relabelling and draw of distinct examples are that
family's, and a class needs `instances + 1` examples. It works for any labelled array: give
Omniglot training classes with their rotations as new classes (`Omniglot.rotated`), as the
other Omniglot benchmarks do, and test classes from other alphabets (`alphabet_splits`).

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
"""

from __future__ import annotations

import numpy as np

from l2l.episodes import Episode
from l2l.errors import invalid_value
from l2l.tasks.base import TaskDistribution
from l2l.tasks.classification import FewShotClassification

INSTANCES_REPORTED = (1, 2, 3, 4, 5, 10)
"""The instance numbers Santoro et al. (2016, Table 1) report accuracy at."""


class OnlineClassification(TaskDistribution):
    """Episodes of the online few-shot protocol drawn from a labelled array.

    Args:
        x: `[N, ...]` examples (images `[N, H, W, C]`, vectors, ...).
        labels: `[N]` integer class ids.
        ways: classes per sequence, at least 2.
        instances: appearances of every class in a sequence (length `ways * instances`).
        classes: the class ids sequences may draw from (a split); `None` for all.

    `sample_with_info` adds `instance [B, T]` (see `instance_numbers`), `classes [B, ways]`
    (the class id behind each label) and `index [B, T]` (the row of `x` behind each step).
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, ways: int = 5, instances: int = 10,
                 classes: np.ndarray | None = None):
        if isinstance(instances, bool) or int(instances) != instances or instances < 1:
            raise invalid_value("instances", instances, "an integer >= 1 (appearances of each "
                                "class per sequence)")
        self.instances = int(instances)
        self._draw = FewShotClassification(x, labels, ways=ways, shots=self.instances,
                                           queries=1, classes=classes, shuffle=True)
        self.ways, self.classes = self._draw.ways, self._draw.classes

    @property
    def length(self) -> int:
        """Steps per sequence, `ways * instances`."""
        return self.ways * self.instances

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        return self.sample_with_info(batch_size, rng)[0]

    def sample_with_info(self, batch_size: int, rng: np.random.Generator):
        drawn, info = self._draw.sample_with_info(batch_size, rng)
        x, y = drawn.support_x, drawn.support_y
        episode = Episode(support_x=x, support_y=y, query_x=x, query_y=y,
                          support_mask=drawn.support_mask)
        return episode, {"instance": instance_numbers(y), "classes": info["classes"],
                         "index": info["support_index"]}

    def config(self) -> dict:
        """The base config plus the drawing family's (its arrays are fingerprinted there)."""
        return {**super().config(), "draw": self._draw.config()}


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
