"""MetaModel: a learner and a predictor trained end to end as one `keras.Model`."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from l2l.episodes import INPUT_KEYS, QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y
from l2l.ops import apply_per_example
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class MetaModel(keras.Model):
    """`predictor(query_x, learner(support_x, support_y, support_mask))` as a Keras model.

    Inputs are the dict of an `Episode` (`support_x`, `support_y`, `support_mask`, `query_x`);
    the output is the predictor's answer for every query. Train it with `fit` on a task's
    `dataset(...)`, evaluate it with `l2l.evaluation.evaluate`, save it as `.keras`.

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
        return self.predictor(query_x, learned, training=training)

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
        """Create every weight by calling the model once on zeros of the saved input shapes."""
        signature = config["input_signature"]
        self({k: np.zeros((1, *shape), dtype=dtype) for k, (shape, dtype) in signature.items()})


def _dtype_name(x) -> str:
    return keras.backend.standardize_dtype(x.dtype)


def _check_inputs(inputs) -> None:
    if not isinstance(inputs, dict) or any(k not in inputs for k in INPUT_KEYS):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(
            f"MetaModel expects a dict with keys {list(INPUT_KEYS)} (an Episode's inputs()), "
            f"got {got}.")
    sx, sy, mask, qx = (inputs[k] for k in INPUT_KEYS)
    if len(sx.shape) != len(qx.shape) or tuple(sx.shape[2:]) != tuple(qx.shape[2:]):
        raise ValueError(
            f"support_x examples {tuple(sx.shape[2:])} and query_x examples "
            f"{tuple(qx.shape[2:])} must have the same shape.")
    for name, t in ((SUPPORT_Y, sy), (SUPPORT_MASK, mask)):
        if t.shape[1] is not None and sx.shape[1] is not None and t.shape[1] != sx.shape[1]:
            raise ValueError(f"{name} has {t.shape[1]} examples per episode but support_x has "
                             f"{sx.shape[1]}.")
