"""The learner contract: a support set in, a `LearnerOutput` out.

A learner is a Keras layer called as

    learner(support_x, support_y, support_mask, training=...) -> LearnerOutput

It receives

- `support_x [B, S, ...]`: the support examples, raw or (when the `MetaModel` has a shared
  encoder) their embeddings `[B, S, D]`;
- `support_y`: their targets, `[B, S]` or `[B, S, D]` floats for regression and binary tasks,
  `[B, S]` integer class indices `0..ways-1` for N-way classification (relabelled per episode);
- `support_mask [B, S]`: 1.0 for real examples, 0.0 for padding (ragged shots, fewer ways).

The `LearnerOutput` is a dict. This module is the one place that lists its keys:

| key | shape | what the predictor does with it |
| --- | --- | --- |
| `FEATURES` = `"features"` | `[B, D]` | conditions on a task code |
| `WEIGHTS` = `"weights"` | dict of `[B, ...]` | uses them as its own per-episode weights |
| `CONTEXT` = `"context"` | `[B, S, D]` | reads per-example values by attention |
| `CONTEXT_KEYS` = `"context_keys"` | `[B, S, ...]` | compares queries with these keys |
| `CONTEXT_MASK` = `"context_mask"` | `[B, S]` | ignores the context of padded examples |

- `WEIGHTS` names follow the predictor that uses them: `"kernel_i" [B, in, out]` and
  `"bias_i" [B, out]` for `GeneratedDensePredictor` (a class head is layer 0 with `out = ways`),
  `"film_scale_i"`, `"film_shift_i" [B, C_i]` for `FiLMPredictor`.
- The three `CONTEXT*` keys come together. They exist because a learner never sees the
  queries: a predictor that attends from each query to the support set (attentive neural
  processes, Matching Networks) needs the support set itself. `CONTEXT_KEYS` holds the support
  examples in the space of the predictor's `query_x` (usually `support_x` as the learner got
  it), `CONTEXT` what each example contributes (its representation, or its one-hot label),
  `CONTEXT_MASK` the support mask.

A learner must treat masked examples as absent (their content must not change its output) and
should not depend on the order of the support examples unless it is meant to (a sequence
learner). Every `Learner` subclass's `call` is checked against this table when it returns.
"""

from __future__ import annotations

import functools

import keras

from l2l.errors import invalid_value

FEATURES = "features"
WEIGHTS = "weights"
CONTEXT = "context"
CONTEXT_KEYS = "context_keys"
CONTEXT_MASK = "context_mask"
CONTEXT_ENTRIES = (CONTEXT, CONTEXT_KEYS, CONTEXT_MASK)
LEARNER_OUTPUT_KEYS = (FEATURES, WEIGHTS, *CONTEXT_ENTRIES)
# The allowed ranks of each tensor entry: (lowest, highest).
_RANKS = {FEATURES: (2, 2), CONTEXT: (3, 3), CONTEXT_MASK: (2, 2), CONTEXT_KEYS: (3, 99)}


class Learner(keras.layers.Layer):
    """Base class of learners: subclass it, implement `call`, register it.

    `call(support_x, support_y, support_mask, training=None)` returns a dict with one or more
    of the keys in this module's table (`FEATURES`, `WEIGHTS`, the `CONTEXT*` triple). Use
    `l2l.ops` for the set operations (`masked_mean`, `apply_per_example`, `label_features`,
    `class_means`), so padding and classification labels are handled the same everywhere.

    To save and load a model holding your learner as `.keras`, decorate the class with
    `l2l.learners.register` (the same function as `l2l.serialization.register`), return every
    constructor argument from `get_config`, and import the class before `load_model`. A
    learner holding other layers puts them in its config with `l2l.serialization`'s
    `serialize_layers` and rebuilds them in `from_config` with `deserialize_layers`.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import Learner, register
    >>> from l2l.ops import masked_mean
    >>> @register
    ... class MeanLearner(Learner):
    ...     def call(self, support_x, support_y, support_mask, training=None):
    ...         return {"features": masked_mean(support_x, support_mask)}
    >>> out = MeanLearner()(np.ones((2, 3, 4)), np.ones((2, 3)), np.ones((2, 3)))
    >>> tuple(out["features"].shape)
    (2, 4)
    """

    order_invariant = True
    """Whether the output must not depend on the order of the support examples (the
    `l2l.testing.check_learner` checks it); an order-dependent learner sets it to False."""

    def __init_subclass__(cls, **kwargs):
        # Every subclass's `call` is wrapped to check what it returns against the contract,
        # so a broken learner fails where it is called, named, rather than deep in a predictor.
        # (A wrapper rather than an override of Keras's `Layer.__call__`.)
        super().__init_subclass__(**kwargs)
        if "call" in cls.__dict__:
            cls.call = _checked(cls.__dict__["call"])

    def call(self, support_x, support_y, support_mask, training=None) -> dict:
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(support_x, support_y, support_mask, "
            "training=None) and return a dict of LearnerOutput keys: 'features', 'weights' "
            "and/or the context triple (see l2l.learners.base).")


def _checked(call):
    @functools.wraps(call)  # keeps the signature Keras reads (`training`, ...)
    def checked_call(self, *args, **kwargs):
        output = call(self, *args, **kwargs)
        check_learner_output(output, self)
        return output

    return checked_call


def check_learner_output(output, learner) -> None:
    """Raise one clear error when `output` breaks the `LearnerOutput` contract above.

    The one check of the contract: `Learner.__call__` and `l2l.models.MetaModel` (for
    learners that are plain Keras layers) both use it. Any non-empty subset of the keys is
    valid, a context-only output included (a predictor that attends to the support set needs
    nothing else); a predictor that needs a key the learner did not emit says so itself.

    Example:

    >>> from l2l.learners.base import check_learner_output
    >>> check_learner_output({"feature": None}, "MyLearner")
    Traceback (most recent call last):
    ...
    l2l.errors.InvalidValueError: Received an invalid value for `MyLearner's output`: ...
    """
    name = learner if isinstance(learner, str) else type(learner).__name__
    field = f"{name}'s output"
    if not isinstance(output, dict) or not output:
        raise invalid_value(field, output, f"a non-empty dict with keys among "
                            f"{list(LEARNER_OUTPUT_KEYS)}", "see l2l.learners.base")
    unknown = sorted(set(output) - set(LEARNER_OUTPUT_KEYS))
    if unknown:
        raise invalid_value(field, sorted(output), f"keys among {list(LEARNER_OUTPUT_KEYS)}",
                            f"{name} returned unknown LearnerOutput keys {unknown} (see "
                            "l2l.learners.base)")
    context = [k for k in CONTEXT_ENTRIES if k in output]
    if context and len(context) != len(CONTEXT_ENTRIES):
        raise invalid_value(field, sorted(output), f"the context keys "
                            f"{list(CONTEXT_ENTRIES)} together",
                            f"{name} returned {context} without "
                            f"{sorted(set(CONTEXT_ENTRIES) - set(context))}")
    if WEIGHTS in output and not isinstance(output[WEIGHTS], dict):
        raise invalid_value(f"{name}'s {WEIGHTS!r}", output[WEIGHTS],
                            "a dict of per-episode tensors (e.g. 'kernel_0')")
    for key, (low, high) in _RANKS.items():
        if key in output and not low <= len(output[key].shape) <= high:
            want = f"rank {low}" if low == high else f"rank {low} or more"
            fix = ("Pool over the support set (e.g. l2l.ops.masked_mean) to get one code "
                   "per episode" if key == FEATURES else "see l2l.learners.base")
            raise invalid_value(f"{name}'s {key!r}", output[key],
                                f"a tensor of {want} (see l2l.learners.base)",
                                f"{name} returned {key!r} of shape "
                                f"{tuple(output[key].shape)}; {fix}")
