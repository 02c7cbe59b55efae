"""MetaModel: a learner and a predictor trained end to end as one `keras.Model`."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from l2l.episodes import INPUT_KEYS, QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y
from l2l.learners.base import FEATURES, WEIGHTS
from l2l.ops import apply_per_example
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class MetaModel(keras.Model):
    """`predictor(query_x, learner(support_x, support_y, support_mask))` as a Keras model.

    Inputs are the dict of an `Episode` (`support_x`, `support_y`, `support_mask`, `query_x`);
    the output is the predictor's answer for every query, in float32 under any dtype policy
    (mixed precision included). Train it with `fit` on a task's `dataset(...)` (under a
    `tf.distribute` strategy too: build it in the strategy's scope, and under a multi-worker
    strategy pass it to `l2l.distribute.enable_multi_worker_fit`), evaluate it with
    `l2l.evaluation.evaluate`, save it as `.keras`. Malformed inputs, learner outputs and
    targets raise an error that names the problem; NaN inputs and empty support sets are
    caught at every step (see `_assert_valid`).

    Args:
        learner: a `l2l.learners.Learner`.
        predictor: a `l2l.predictors.Predictor`.
        encoder: optional layer applied to every support and query example before the learner
            and predictor see them (one call for both sets, so the embedding is shared).

    Example:

    >>> import numpy as np, keras
    >>> from l2l.models import MetaModel
    >>> from l2l.learners import PooledLearner
    >>> from l2l.predictors import ConditionedPredictor
    >>> model = MetaModel(PooledLearner(code_dim=8), ConditionedPredictor(units=(8,)),
    ...                   encoder=keras.layers.Dense(8))
    >>> inputs = {"support_x": np.ones((2, 3, 4)), "support_y": np.ones((2, 3)),
    ...           "support_mask": np.ones((2, 3)), "query_x": np.ones((2, 5, 4))}
    >>> tuple(model(inputs).shape)
    (2, 5)
    """

    def __init__(self, learner, predictor, encoder=None, **kwargs):
        super().__init__(**kwargs)
        self.learner, self.predictor, self.encoder = learner, predictor, encoder
        self._input_signature = None

    def call(self, inputs, training=None):
        _check_inputs(inputs)
        inputs = _assert_valid(inputs)
        support_x, query_x = inputs[SUPPORT_X], inputs[QUERY_X]
        if self._input_signature is None:
            self._input_signature = {k: (tuple(inputs[k].shape[1:]), _dtype_name(inputs[k]))
                                     for k in INPUT_KEYS}
        if self.encoder is not None:
            support_size = support_x.shape[1] or ops.shape(support_x)[1]
            both = ops.concatenate(
                [ops.cast(support_x, "float32"), ops.cast(query_x, "float32")], axis=1)
            both = apply_per_example(self.encoder, both, training=training)
            support_x, query_x = both[:, :support_size], both[:, support_size:]
        learned = self.learner(support_x, inputs[SUPPORT_Y], inputs[SUPPORT_MASK],
                               training=training)
        _check_learner_output(learned, self.learner)
        # Predictions (logits) leave the model in float32 under any dtype policy, so losses
        # stay accurate under mixed precision ("mixed_float16" / "mixed_bfloat16").
        return ops.cast(self.predictor(query_x, learned, training=training), "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is not None and y_pred is not None:
            _check_targets(y, y_pred, self.predictor)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def get_config(self):
        return {**super().get_config(),
                **serialize_layers(learner=self.learner, predictor=self.predictor,
                                   encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "learner", "predictor", "encoder"))

    def get_build_config(self):
        if self._input_signature is None:
            return None
        return {"input_signature": {k: [list(s), d]
                                    for k, (s, d) in self._input_signature.items()}}

    def build_from_config(self, config):
        """Create every weight by calling the model once on one dummy episode of the saved
        input shapes (zeros, with a support mask of ones: a support set may not be empty)."""
        signature = config["input_signature"]
        fill = {SUPPORT_MASK: np.ones}
        self({k: fill.get(k, np.zeros)((1, *shape), dtype=dtype)
              for k, (shape, dtype) in signature.items()})


def _dtype_name(x) -> str:
    return keras.backend.standardize_dtype(x.dtype)


def _check_inputs(inputs) -> None:
    if not isinstance(inputs, dict) or any(k not in inputs for k in INPUT_KEYS):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            f"MetaModel expects a dict with keys {list(INPUT_KEYS)} (an Episode's inputs()), "
            f"got {got}.")
    for key in INPUT_KEYS:
        _check_numeric(key, inputs[key])
    sx, sy, mask, qx = (inputs[k] for k in INPUT_KEYS)
    if sx.shape[1] == 0:
        raise ValueError("support_x has an empty support set (0 examples per episode); every "
                         "episode needs at least one support example.")
    if len(sx.shape) != len(qx.shape) or tuple(sx.shape[2:]) != tuple(qx.shape[2:]):
        raise ValueError(
            f"support_x examples {tuple(sx.shape[2:])} and query_x examples "
            f"{tuple(qx.shape[2:])} must have the same shape.")
    for name, t in ((SUPPORT_Y, sy), (SUPPORT_MASK, mask)):
        if t.shape[1] is not None and sx.shape[1] is not None and t.shape[1] != sx.shape[1]:
            raise ValueError(f"{name} has {t.shape[1]} examples per episode but support_x has "
                             f"{sx.shape[1]}.")


def _check_numeric(name: str, x) -> None:
    dtype = _dtype_name(x) if hasattr(x, "dtype") else type(x).__name__
    if dtype not in ("bool",) and not (dtype.startswith(("float", "int", "uint", "bfloat"))):
        raise TypeError(
            f"{name} has dtype {dtype}, but l2l models take numbers: encode labels as integers "
            "or floats (e.g. np.unique(labels, return_inverse=True)[1]) and images as uint8 "
            "or float arrays.")


def _assert_valid(inputs):
    """`inputs` with run-time checks: float inputs are finite, no support set is empty.

    TensorFlow backend only. The cost is one pass over the float inputs per step (uint8
    images are skipped: they cannot hold NaN), small beside the forward pass. XLA drops these
    checks (`jit_compile=True`); there, train with `keras.callbacks.TerminateOnNaN(
    raise_error=True)` to stop at the first NaN loss.
    """
    if keras.backend.backend() != "tensorflow":
        return inputs
    import tensorflow as tf

    checked = dict(inputs)
    for key in INPUT_KEYS:
        if _dtype_name(inputs[key]).startswith(("float", "bfloat")):
            checked[key] = tf.debugging.assert_all_finite(
                inputs[key], f"MetaModel input {key} contains NaN or infinite values: remove or "
                "replace them (np.isfinite finds them); Episodes built by l2l tasks are checked "
                "when made")
    mask = checked[SUPPORT_MASK]
    nonempty = tf.debugging.assert_positive(
        tf.reduce_sum(tf.cast(mask, "float32"), axis=1),
        "MetaModel input support_mask is all zero for some episode, i.e. its support set is "
        "empty: every episode needs at least one real support example (mask 1)")
    with tf.control_dependencies([nonempty] if nonempty is not None else []):
        checked[SUPPORT_MASK] = tf.identity(mask)
    return checked


def _check_learner_output(learned, learner) -> None:
    name = type(learner).__name__
    if not isinstance(learned, dict) or not ({FEATURES, WEIGHTS} & set(learned)):
        got = sorted(learned) if isinstance(learned, dict) else type(learned).__name__
        raise ValueError(
            f"{name} returned {got}; a learner must return a dict with 'features' [B, D] "
            "and/or 'weights' {name: [B, ...]} (see l2l.learners.base).")
    features = learned.get(FEATURES)
    if features is not None and len(features.shape) != 2:
        raise ValueError(
            f"{name} returned features of shape {tuple(features.shape)}, but features are one "
            "vector per episode, [B, D]: pool over the support set (e.g. l2l.ops.masked_mean) "
            "before returning them.")
    weights = learned.get(WEIGHTS)
    if weights is not None and not isinstance(weights, dict):
        raise ValueError(
            f"{name} returned weights of type {type(weights).__name__}; weights must be a dict "
            "of per-episode tensors such as {'kernel_0': [B, in, out], 'bias_0': [B, out]}.")


def _check_targets(y, y_pred, predictor) -> None:
    """Static checks (no cost per step) that predictions and `query_y` can be compared."""
    _check_numeric("query_y", y)
    name = type(predictor).__name__
    ys, ps = tuple(y.shape), tuple(y_pred.shape)
    if len(ps) < 2 or len(ys) < 2 or None not in (ys[1], ps[1]) and ys[1] != ps[1]:
        raise ValueError(
            f"{name} returned predictions of shape {ps} for query_y of shape {ys}; a predictor "
            "must return one prediction per query, [B, Q] or [B, Q, outputs].")
    if len(ys) == len(ps) == 3 and None not in (ys[2], ps[2]) and ys[2] != ps[2] and ys[2] != 1:
        raise ValueError(
            f"{name} returns {ps[2]} outputs per query but query_y has {ys[2]} per query; set "
            f"the predictor's output size (e.g. output_units={ys[2]}) to match the task.")
    if len(ys) == 3 and len(ps) == 2 and ys[2] not in (None, 1):
        raise ValueError(
            f"{name} returns one output per query but query_y has {ys[2]} per query; set the "
            f"predictor's output size (e.g. output_units={ys[2]}) to match the task.")
