"""Contract checks for a learner or predictor of your own: `check_learner(learner, episodes)`.

Every l2l learner keeps five promises, and `check_learner` tests each on a batch of episodes,
raising an `AssertionError` that names the check and the learner when one is broken:

1. **output contract**: the learner returns a `LearnerOutput` (`l2l.learners.base`) with one
   row per episode (and one context entry per support example); the model answers with one
   prediction per query.
2. **support order**: permuting the support examples of every episode changes nothing, unless
   the learner declares itself order-dependent (`order_invariant = False`, as
   `SequenceLearner` does) or `order_invariant=False` is passed.
3. **padding**: the content of padded support slots (mask 0) changes nothing. Existing padding
   is filled with garbage; episodes without padding get two garbage slots appended. Works for
   any example shape: vectors, images (`uint8` or float), sequences.
4. **serialisation**: the model saves to `.keras`, loads back (in this process, so the
   learner's module must register it: `l2l.learners.register`) and predicts the same.
5. **distribution strategy**: a copy built under a two-replica `tf.distribute.MirroredStrategy`
   predicts the same (each replica gets part of the batch) and trains one step to a finite
   loss. It needs two devices (two GPUs, or the CPU split by
   `l2l.training.distribute.logical_cpu_devices(2)` first thing in the program); with fewer,
   this check is skipped with a `UserWarning` (pass `strategy=None` to skip it silently).

`learner` is a `Learner` (checked alone, or paired with `predictor`) or a built `MetaModel`
(checked whole, encoder included, e.g. a trained model). A learner alone is wrapped in a
`MetaModel` whose `OutputProbe` predictor answers every query with a summary of the whole
`LearnerOutput`, so every check sees every output.

Example:

>>> import numpy as np
>>> from l2l.episodes import Episode
>>> from l2l.learners import PooledLearner
>>> from l2l.testing import check_learner
>>> rng = np.random.default_rng(0)
>>> x, y = rng.normal(size=(4, 8, 3)).astype("float32"), rng.normal(size=(4, 8, 1))
>>> episodes = Episode(x[:, :5], y[:, :5].astype("float32"), x[:, 5:], y[:, 5:])
>>> check_learner(PooledLearner(code_dim=8), episodes, strategy=None)  # passes: no output
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings

import keras
import numpy as np
from keras import ops

from l2l.episodes import Episode
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, check_learner_output
from l2l.models import MetaModel
from l2l.predictors.base import Predictor
from l2l.serialization import register

AUTO = "auto"


def check_learner(learner, episodes: Episode, *, predictor=None,
                  order_invariant: bool | None = None, atol: float = 1e-5,
                  strategy=AUTO) -> None:
    """Run the checks of the module docstring on `episodes`; raise `AssertionError` on failure.

    Args:
        learner: a `l2l.learners.Learner`, or a `MetaModel` to check whole.
        episodes: an `Episode` batch (a few episodes suffice; ragged support sets are best).
        predictor: a `Predictor` to pair with a `Learner`; by default `OutputProbe`.
        order_invariant: whether the support order must not matter; by default the learner's
            `order_invariant` attribute (True for every learner but `SequenceLearner`).
        atol: tolerance of every comparison (absolute, and relative to the values).
        strategy: `"auto"` (a two-replica `MirroredStrategy` when two devices are visible),
            a `tf.distribute.Strategy` of your choice, or None to skip that check.
    """
    model, core, name = _subject(learner, predictor)
    if order_invariant is None:
        order_invariant = bool(getattr(core, "order_invariant", True))
    reference = _run(name, "output contract", lambda: _contract(model, core, episodes))

    def same(check: str, other: Episode | None = None, predict=None) -> None:
        got = _run(name, check, lambda: (predict or predict_eagerly)(model, other))
        _assert_close(name, check, got, reference, atol)

    if order_invariant:
        same("support order", _permuted(episodes))
    same("padding", _garbage_padded(episodes))
    same("serialisation round trip", episodes, lambda m, e: predict_eagerly(_reloaded(m), e))
    chosen = _strategy(strategy, name)
    if chosen is not None:
        same("distribution strategy", episodes,
             lambda m, e: _predict_under(chosen, m, e, name))


@register
class OutputProbe(Predictor):
    """Answers every query with one vector summing up the whole `LearnerOutput`.

    Features and weights are flattened per episode; the context entries are summed over the
    real support examples (mask 1), so the answer is exactly as order- and padding-invariant
    as the learner. `check_learner` pairs it with a learner given alone.
    """

    def call(self, query_x, learner_output, training=None):
        mask = learner_output.get(CONTEXT_MASK)
        parts = []
        for key in sorted(learner_output):
            value = learner_output[key]
            for tensor in ([value[k] for k in sorted(value)] if isinstance(value, dict)
                           else [value]):
                tensor = ops.cast(tensor, "float32")
                if key in (CONTEXT, CONTEXT_KEYS) and mask is not None:
                    weight = ops.cast(mask, "float32")
                    while len(weight.shape) < len(tensor.shape):
                        weight = ops.expand_dims(weight, -1)
                    tensor = ops.sum(tensor * weight, axis=1)
                elif key == CONTEXT_MASK:
                    tensor = ops.sum(tensor, axis=1)
                parts.append(ops.reshape(tensor, (ops.shape(tensor)[0], -1)))
        code = ops.concatenate(parts, axis=-1)
        queries = ops.reshape(ops.cast(query_x, "float32"),
                              (ops.shape(query_x)[0], ops.shape(query_x)[1], -1))
        return ops.ones_like(queries[..., :1]) * ops.expand_dims(code, 1)


# --------------------------------------------------------------------------- the checks


def _subject(learner, predictor) -> tuple[keras.Model, object, str]:
    """`(model to run, learner inside it, name for messages)`."""
    if isinstance(learner, MetaModel):
        core = learner.learner
        return learner, core, f"{type(core).__name__} (in model {learner.name!r})"
    return (MetaModel(learner, predictor if predictor is not None else OutputProbe()), learner,
            type(learner).__name__)


def _run(name: str, check: str, fn):
    try:
        return fn()
    except AssertionError:
        raise
    except Exception as e:  # any failure of the learner is a failed check, named as such
        raise AssertionError(f"check_learner[{check}] failed for {name}: "
                             f"{type(e).__name__}: {e}") from e


def predict_eagerly(model: keras.Model, episodes: Episode) -> np.ndarray:
    """`model`'s query predictions for `episodes`, from one eager call (no `predict` graph to
    trace: quick for scoring a small model once)."""
    return np.asarray(model(episodes.inputs(), training=False))


def _contract(model: MetaModel, core, episodes: Episode) -> np.ndarray:
    predictions = predict_eagerly(model, episodes)
    if predictions.shape[:2] != (episodes.batch_size, episodes.query_size):
        raise AssertionError(f"predictions have shape {predictions.shape}; expected one per "
                             f"query, [{episodes.batch_size}, {episodes.query_size}, ...]")
    if model.encoder is None:  # the learner reads the raw support set: call it directly
        output = core(episodes.support_x, episodes.support_y, episodes.support_mask)
        check_learner_output(output, core)
        for key, value in output.items():
            for part, tensor in (value.items() if isinstance(value, dict) else [(key, value)]):
                shape = tuple(tensor.shape)
                if shape[0] != episodes.batch_size or (
                        key.startswith("context") and shape[1] != episodes.support_size):
                    per = ", S: one entry per support example" if key.startswith("context") else ""
                    raise AssertionError(f"{part!r} has shape {shape}; expected "
                                         f"[{episodes.batch_size}, ...] (B: one row per "
                                         f"episode{per})")
    return predictions


def _permuted(episodes: Episode) -> Episode:
    order = np.random.default_rng(0).permutation(episodes.support_size)
    return dataclasses.replace(episodes, support_x=episodes.support_x[:, order],
                               support_y=episodes.support_y[:, order],
                               support_mask=episodes.support_mask[:, order])


def _garbage(like: np.ndarray, rng: np.random.Generator, labels: np.ndarray | None = None):
    """Arrays of `like`'s shape and dtype, far from real data: noise, or (integer labels) other
    valid labels, so the garbage is wrong, not invalid."""
    if np.issubdtype(like.dtype, np.integer):
        pool = like if labels is None else labels
        low, high = int(pool.min()), int(pool.max())
        return rng.integers(low, high + 1, like.shape).astype(like.dtype)
    return rng.normal(0.0, 50.0, like.shape).astype(like.dtype)


def _garbage_padded(episodes: Episode) -> Episode:
    """`episodes` with garbage in every padded support slot (two appended when none is)."""
    rng = np.random.default_rng(1)
    e = episodes
    if e.support_mask.min() > 0:  # no padding: append two padded slots
        def grow(a):
            return np.concatenate([a, np.zeros_like(a[:, :2])], axis=1)
        e = dataclasses.replace(e, support_x=grow(e.support_x), support_y=grow(e.support_y),
                                support_mask=grow(e.support_mask))
    pad = e.support_mask == 0

    def fill(a):
        where = pad.reshape(pad.shape + (1,) * (a.ndim - 2))
        return np.where(where, _garbage(a, rng, labels=a), a).astype(a.dtype)
    return dataclasses.replace(e, support_x=fill(e.support_x), support_y=fill(e.support_y))


def _reloaded(model: keras.Model) -> keras.Model:
    from l2l.training.model_files import load_model

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        return load_model(path)


def _strategy(strategy, name: str):
    if strategy is None or strategy != AUTO:
        return strategy
    import tensorflow as tf

    if tf.distribute.has_strategy():  # already inside a strategy: leave it alone
        return None
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    if len(devices) < 2:
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        warnings.warn(f"check_learner: the distribution-strategy check of {name} was skipped: "
                      "TensorFlow sees one device. Split the CPU with "
                      "l2l.training.distribute.logical_cpu_devices(2) first thing in the "
                      "program to run it, or pass strategy=None.", UserWarning, stacklevel=3)
        return None
    return tf.distribute.MirroredStrategy(devices[:2])


def _predict_under(strategy, model: keras.Model, episodes: Episode, name: str) -> np.ndarray:
    """A copy of `model` made under `strategy`: its predictions, after one training step
    (with learning rate 0, so the weights stay those of `model`) ends with a finite loss."""
    with strategy.scope():
        copy = type(model).from_config(model.get_config())
        copy(episodes[:1].inputs(), training=False)  # create the (mirrored) weights
        copy.set_weights(model.get_weights())
        copy.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    inputs = episodes.inputs()
    predictions = copy.predict(inputs, batch_size=episodes.batch_size, verbose=0)
    history = copy.fit(inputs, np.zeros_like(predictions), batch_size=episodes.batch_size,
                       epochs=1, verbose=0)
    loss = history.history["loss"][-1]
    if not np.isfinite(loss):
        raise AssertionError(f"one training step under {type(strategy).__name__} gave the "
                             f"loss {loss}")
    return np.asarray(predictions)


def _assert_close(name: str, check: str, got: np.ndarray, want: np.ndarray,
                  atol: float) -> None:
    if got.shape != want.shape or not np.allclose(got, want, rtol=atol, atol=atol):
        worst = (np.abs(got - want).max() if got.shape == want.shape
                 else f"shape {got.shape} against {want.shape}")
        raise AssertionError(f"check_learner[{check}] failed for {name}: the predictions "
                             f"changed (largest difference {worst}, tolerance {atol})")
