"""MetaModel: a learner and a predictor trained end to end as one `keras.Model`."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from l2l.checked_model import CheckedModel
from l2l.episodes import INPUT_KEYS, QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y
from l2l.errors import L2LError, invalid_value
from l2l.learners.base import FEATURES, check_learner_output
from l2l.ops import apply_per_example
from l2l.serialization import deserialize_layers, register, serialize_layers
from l2l.validation import (
    check_numeric,
    checked_episode,
    checked_targets,
)


@register
class MetaModel(CheckedModel, keras.Model):
    """`predictor(query_x, learner(support_x, support_y, support_mask))` as a Keras model.

    Inputs are the dict of an `Episode` (`support_x`, `support_y`, `support_mask`, `query_x`);
    the output is the predictor's answer for every query, in float32 under any dtype policy
    (mixed precision included). Train it with `fit` on a task's `dataset(...)` (under a
    `tf.distribute` strategy too: build it in the strategy's scope, and under a multi-worker
    strategy pass it to `l2l.training.distribute.enable_multi_worker_fit`), evaluate it with
    `l2l.evaluation.evaluate`, save it as `.keras`.

    Inputs are checked by `l2l.validation` at every step: malformed inputs, learner outputs
    and targets, NaN or infinite inputs and `query_y`, support masks that are not 0/1 or
    leave an episode empty, class labels outside `0..ways-1`, and examples of another shape
    than the model was built for (`example_shape`) raise an `l2l.errors.InvalidValueError`
    that names the field and the fix. `fit` stops at the first non-finite loss with an
    `l2l.errors.NonFiniteLossError` (`l2l.callbacks.StopOnNonFiniteLoss`, added by default).

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
        inputs, support_x, query_x = self._embedded(inputs, training)
        learned = self.learner(support_x, inputs[SUPPORT_Y], inputs[SUPPORT_MASK],
                               training=training)
        check_learner_output(learned, self.learner)
        # Predictions (logits) leave the model in float32 under any dtype policy, so losses
        # stay accurate under mixed precision ("mixed_float16" / "mixed_bfloat16").
        return ops.cast(self.predictor(query_x, learned, training=training), "float32")

    def _embedded(self, inputs, training):
        """The checked inputs and the support and query examples through the encoder."""
        inputs = checked_episode(inputs, self.example_shape, "this MetaModel")
        self._record_signature(inputs)
        support_x, query_x = inputs[SUPPORT_X], inputs[QUERY_X]
        if self.encoder is not None:
            support_size = support_x.shape[1] or ops.shape(support_x)[1]
            both = ops.concatenate(
                [ops.cast(support_x, "float32"), ops.cast(query_x, "float32")], axis=1)
            both = self._encoded(both, support_x, training)
            support_x, query_x = both[:, :support_size], both[:, support_size:]
        return inputs, support_x, query_x

    def _record_signature(self, inputs: dict) -> None:
        """Keep the shapes and dtypes of the first inputs: `example_shape`, and what
        `build_from_config` rebuilds a loaded model from."""
        if self._input_signature is None:
            self._input_signature = {k: (tuple(inputs[k].shape[1:]), _dtype_name(inputs[k]))
                                     for k in INPUT_KEYS}

    def _encoded(self, both, support_x, training):
        """Every example through the encoder; one that cannot read examples of this shape (a
        conv net given vectors, say) is named with the episode field, not its layer error."""
        try:
            return apply_per_example(self.encoder, both, training=training)
        except ValueError as error:
            if isinstance(error, L2LError):
                raise
            reason = str(error).strip().splitlines()[-1].strip(" '\"")
            raise invalid_value(
                SUPPORT_X, support_x, f"examples that the encoder `{self.encoder.name}` can "
                "read", f"the encoder failed on examples of shape "
                f"{tuple(support_x.shape[2:])} ({reason}); give episodes of the example shape "
                "this model is made for (a conv encoder reads images [H, W, C]; add the "
                "channel axis to [H, W] images)") from error

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is not None and y_pred is not None:
            _check_targets(y, y_pred, self.predictor)
            y = checked_targets(y, y_pred, "MetaModel")
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    @property
    def example_shape(self) -> tuple | None:
        """The shape of one example (`support_x.shape[2:]`) this model was built for, or None
        before its first call. Examples of another shape are refused; the model is not rebuilt."""
        if self._input_signature is None:
            return None
        return tuple(self._input_signature[SUPPORT_X][0][1:])

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


@register
class CausalMetaModel(MetaModel):
    """A `MetaModel` also trained to predict each support target from the examples before it.

    For learners that read the support set in order and expose the code after every step
    (`step_codes(support_x, support_y, support_mask) -> [B, S, D]`, whose last step is the
    learner's `"features"`, e.g. `SequenceLearner`). In
    training, besides the loss on the queries, the predictor answers every support `x_t`
    from the code of the examples before `t` (one pass of the learner gives both) and
    `support_loss_weight` times the mean squared error of those answers over the real
    support steps is added: the dense training signal of Hochreiter et al. (2001), whose
    LSTM was trained to predict every `y_t` of the sequence, so that one episode teaches
    every support size at once, not only the one cut for its queries. Regression only (the
    added loss is a squared error). At inference it is a plain `MetaModel`.

    Example:

    >>> import numpy as np, keras
    >>> from l2l.learners import SequenceLearner
    >>> from l2l.models import CausalMetaModel
    >>> from l2l.predictors import ConditionedPredictor
    >>> from l2l.tasks import SinusoidTask
    >>> model = CausalMetaModel(SequenceLearner(units=8),
    ...                         ConditionedPredictor(units=(8,), interaction=False))
    >>> model.compile("adam", "mse")
    >>> inputs, targets = SinusoidTask(shots=5).episodes(4, seed=0).as_fit_data()
    >>> loss = model.train_on_batch(inputs, targets)
    >>> len(model.losses)  # the support loss of the last training call
    1
    """

    def __init__(self, learner, predictor, encoder=None, support_loss_weight: float = 1.0,
                 **kwargs):
        if not callable(getattr(learner, "step_codes", None)):
            raise invalid_value("learner", learner, "a learner with step_codes (e.g. "
                                "SequenceLearner)", "use MetaModel for other learners")
        if isinstance(support_loss_weight, bool) or not isinstance(
                support_loss_weight, (int, float)) or not support_loss_weight >= 0:
            raise invalid_value("support_loss_weight", support_loss_weight,
                                "a number >= 0 (0 trains on the queries alone)")
        super().__init__(learner, predictor, encoder=encoder, **kwargs)
        self.support_loss_weight = float(support_loss_weight)

    def call(self, inputs, training=None):
        if not training or not self.support_loss_weight:
            return super().call(inputs, training=training)
        inputs, support_x, query_x = self._embedded(inputs, training)
        support_y, mask = inputs[SUPPORT_Y], inputs[SUPPORT_MASK]
        # One pass of the learner: the code after each step; the last one (a padded step
        # repeats the code before it) answers the queries, the one before step t answers x_t.
        codes = self.learner.step_codes(support_x, support_y, mask, training=training)
        before = ops.concatenate([ops.zeros_like(codes[:, :1]), codes[:, :-1]], axis=1)
        predictions = step_predictions(self.predictor, support_x, before, training)
        target = ops.cast(support_y, predictions.dtype)
        if len(target.shape) == len(predictions.shape) + 1:
            target = target[..., 0]
        error = ops.square(predictions - target)
        while len(error.shape) > 2:
            error = ops.mean(error, axis=-1)
        weights = ops.cast(mask, error.dtype)
        self.add_loss(self.support_loss_weight * ops.sum(error * weights)
                      / ops.maximum(ops.sum(weights), 1.0))
        answers = self.predictor(query_x, {FEATURES: codes[:, -1]}, training=training)
        return ops.cast(answers, "float32")

    def get_config(self):
        return {**super().get_config(), "support_loss_weight": self.support_loss_weight}


def step_predictions(predictor, support_x, codes, training=None):
    """The predictor's answer to each support example `x_t` from `codes[:, t]`: `[B, S, ...]`.

    `support_x [B, S, ...]` (already encoded), `codes [B, S, D]`: each step is one episode of
    one query, so any predictor that reads `{"features": code}` answers it.
    """
    batch, steps = ops.shape(support_x)[0], ops.shape(support_x)[1]
    flat_x = ops.reshape(support_x, (batch * steps, 1, *support_x.shape[2:]))
    flat_codes = ops.reshape(codes, (batch * steps, codes.shape[-1]))
    y = predictor(flat_x, {FEATURES: flat_codes}, training=training)
    return ops.reshape(y, (batch, steps, *y.shape[2:]))


def _dtype_name(x) -> str:
    return keras.backend.standardize_dtype(x.dtype)


def _check_targets(y, y_pred, predictor) -> None:
    """Static checks (no cost per step) that predictions and `query_y` can be compared."""
    check_numeric("query_y", y)
    name = type(predictor).__name__
    ys, ps = tuple(y.shape), tuple(y_pred.shape)
    if len(ps) < 2 or len(ys) < 2 or None not in (ys[1], ps[1]) and ys[1] != ps[1]:
        raise invalid_value("query_y", y, f"targets that fit the predictions of shape {ps}",
                            f"{name} returned predictions of shape {ps} for query_y of shape "
                            f"{ys}; a predictor must return one prediction per query, [B, Q] "
                            "or [B, Q, outputs]")
    if len(ys) == len(ps) == 3 and None not in (ys[2], ps[2]) and ys[2] != ps[2] and ys[2] != 1:
        raise invalid_value("query_y", y, f"{ps[2]} targets per query, as {name} returns",
                            f"{name} returns {ps[2]} outputs per query but query_y has {ys[2]} "
                            f"per query; set the predictor's output size (e.g. "
                            f"output_units={ys[2]}) to match the task")
    if len(ys) == 3 and len(ps) == 2 and ys[2] not in (None, 1):
        raise invalid_value("query_y", y, f"one target per query, as {name} returns",
                            f"{name} returns one output per query but query_y has {ys[2]} per "
                            f"query; set the predictor's output size (e.g. "
                            f"output_units={ys[2]}) to match the task")
