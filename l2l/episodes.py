"""The EpisodeBatch: a batch of episodes, each a task's support set and query set.

Every task family in `l2l.tasks` produces EpisodeBatches, and every model in l2l consumes
them, so this module is the one place that says what a batch of episodes looks like:

    support_x     [B, S, ...]  the examples the learner reads
    support_y     [B, S, ...]  their targets
    support_mask  [B, S]       1 for real support examples, 0 for padding (ragged shots);
                               only 0 and 1: a mask marks examples, it does not weight them
    query_x       [B, Q, ...]  the examples the predictor answers
    query_y       [B, Q, ...]  the answers it is scored against

`B` is the number of episodes batched together; all episodes in a batch share `S` and `Q`, and
ragged support sets are padded to `S` and masked. `Episode` is the former name of
`EpisodeBatch`, kept as an alias for a release.

Example:

>>> import numpy as np
>>> from l2l.episodes import Episode
>>> ep = Episode(
...     support_x=np.zeros((4, 5, 3), "float32"), support_y=np.zeros((4, 5, 1), "float32"),
...     query_x=np.zeros((4, 10, 3), "float32"), query_y=np.zeros((4, 10, 1), "float32"))
>>> ep.batch_size, ep.support_size, ep.query_size
(4, 5, 10)
>>> inputs, targets = ep.as_fit_data()
>>> sorted(inputs)
['query_x', 'support_mask', 'support_x', 'support_y']
"""

from __future__ import annotations

import dataclasses

import numpy as np

from l2l.errors import InvalidTypeError, InvalidValueError, invalid_value

SUPPORT_X = "support_x"
SUPPORT_Y = "support_y"
SUPPORT_MASK = "support_mask"
QUERY_X = "query_x"
INPUT_KEYS = (SUPPORT_X, SUPPORT_Y, SUPPORT_MASK, QUERY_X)


@dataclasses.dataclass(frozen=True)
class EpisodeBatch:
    """A batch of `B` episodes (tasks) with fixed shapes (see the module docstring).

    `support_mask` defaults to all ones. Construction validates shapes and values (finite
    floats, a 0/1 mask with a real support example per episode), so a malformed episode fails
    here with an `l2l.errors.InvalidValueError` naming the field, not deep inside a model.
    """

    support_x: np.ndarray
    support_y: np.ndarray
    query_x: np.ndarray
    query_y: np.ndarray
    support_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.support_mask is None:
            mask = np.ones(np.shape(self.support_x)[:2], dtype="float32")
            object.__setattr__(self, "support_mask", mask)
        _validate(self)

    @property
    def batch_size(self) -> int:
        """`B`, the number of episodes."""
        return int(self.support_x.shape[0])

    @property
    def support_size(self) -> int:
        """`S`, support slots per episode (padding included)."""
        return int(self.support_x.shape[1])

    @property
    def query_size(self) -> int:
        """`Q`, queries per episode."""
        return int(self.query_x.shape[1])

    def inputs(self) -> dict[str, np.ndarray]:
        """The model inputs: everything except `query_y`."""
        return {
            SUPPORT_X: self.support_x,
            SUPPORT_Y: self.support_y,
            SUPPORT_MASK: self.support_mask,
            QUERY_X: self.query_x,
        }

    def as_fit_data(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """`(inputs, query_y)`, the `(x, y)` pair that `keras.Model.fit` expects."""
        return self.inputs(), self.query_y

    def __getitem__(self, index: int | slice | np.ndarray) -> Episode:
        """Select episodes along the batch axis: `episode[:10]`, `episode[[0, 3]]`."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Episode(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def first_support(self, k: int) -> Episode:
        """The same episodes seeing only their first `k` support examples (the others masked
        and zeroed): one set of tasks scored at several shot counts.

        >>> ep = Episode(np.ones((2, 5, 1), "float32"), np.ones((2, 5, 1), "float32"),
        ...              np.ones((2, 3, 1), "float32"), np.ones((2, 3, 1), "float32"))
        >>> two = ep.first_support(2)
        >>> two.support_mask[0].tolist(), two.support_x[0, :, 0].tolist()
        ([1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0])
        """
        mask = self.support_mask.copy()
        mask[:, k:] = 0.0
        pad = mask.reshape(mask.shape + (1,) * (self.support_x.ndim - 2))
        pad_y = mask.reshape(mask.shape + (1,) * (self.support_y.ndim - 2))
        return dataclasses.replace(self, support_x=(self.support_x * pad).astype(
            self.support_x.dtype), support_y=(self.support_y * pad_y).astype(
            self.support_y.dtype), support_mask=mask)

    @staticmethod
    def concatenate(episodes: list[Episode]) -> Episode:
        """Join episode batches along the batch axis."""
        if not episodes:
            raise InvalidValueError("Episode.concatenate needs at least one Episode.")
        fields = [f.name for f in dataclasses.fields(Episode)]
        return Episode(**{k: np.concatenate([getattr(e, k) for e in episodes]) for k in fields})



Episode = EpisodeBatch
"""Former name of `EpisodeBatch` (it always held a batch of episodes); kept for a release."""


def _validate(ep: Episode) -> None:
    arrays = {f.name: getattr(ep, f.name) for f in dataclasses.fields(ep)}
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise invalid_value(f"Episode.{name}", value, "a numpy array",
                                error=InvalidTypeError)
        if value.ndim < 2:
            raise invalid_value(f"Episode.{name}", value, "shape [episodes, examples, ...]")
        if value.dtype.kind not in "biuf":
            raise invalid_value(f"Episode.{name}", value, "numbers (bool, integer or float)",
                                "encode labels as integers (e.g. np.unique(labels, "
                                "return_inverse=True)[1]) and images as uint8 or float arrays",
                                error=InvalidTypeError)
    batch = ep.support_x.shape[0]
    for name, value in arrays.items():
        if value.shape[0] != batch:
            raise invalid_value(f"Episode.{name}", value, f"{batch} episodes, as support_x",
                                "all fields must hold the same episodes")
    s, q = ep.support_x.shape[1], ep.query_x.shape[1]
    if s == 0:
        raise invalid_value("Episode.support_x", ep.support_x, "a non-empty support set",
                            "empty support set (support_x.shape[1] == 0): give every episode "
                            "at least one support example")
    if q == 0:
        raise invalid_value("Episode.query_x", ep.query_x, "a non-empty query set",
                            "empty query set (query_x.shape[1] == 0): give every episode at "
                            "least one query")
    for name, size in ((("support_y", s), ("support_mask", s), ("query_y", q))):
        if arrays[name].shape[1] != size:
            raise invalid_value(f"Episode.{name}", arrays[name],
                                f"{size} examples per episode, as the matching x")
    mask = ep.support_mask
    if mask.ndim != 2:
        raise invalid_value("Episode.support_mask", mask, "a mask of shape [episodes, support]")
    if not np.all((mask == 0) | (mask == 1)):
        odd = np.unique(mask[(mask != 0) & (mask != 1)])[:3].tolist()
        raise invalid_value("Episode.support_mask", odd, "0 (padding) or 1 (a real example)",
                            "a mask marks examples, it does not weight them")
    if np.any(mask.sum(axis=1) <= 0):
        empty = np.flatnonzero(mask.sum(axis=1) <= 0)[:5].tolist()
        raise invalid_value("Episode.support_mask", mask, "at least one 1 per episode",
                            f"episodes {empty} have an empty support set (support_mask all "
                            "zero): every episode needs at least one real support example")
    if ep.support_x.shape[2:] != ep.query_x.shape[2:]:
        raise invalid_value("Episode.query_x", ep.query_x,
                            f"examples of shape {ep.support_x.shape[2:]}, as support_x",
                            "support and query sets must hold examples of the same shape")
    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise invalid_value(f"Episode.{name}", value, "finite numbers",
                                f"Episode.{name} contains NaN or infinite values: remove or "
                                "replace them (np.isfinite finds them)")
