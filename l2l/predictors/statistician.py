"""The Neural Statistician's few-shot rule: the class whose context is nearest the query's."""

from __future__ import annotations

import keras
from keras import ops

from l2l.errors import invalid_value
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK
from l2l.ops import ABSENT_CLASS_LOGIT, gaussian_kl_terms
from l2l.predictors.base import Predictor, require
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class StatisticianPredictor(Predictor):
    """Logits `-KL(q(c | query) || q(c | class k))`, and the ELBO of the episode's sets.

    Edwards & Storkey (2017) classify a query by encoding it as a set of one, `q(c | query)`,
    and each class's support examples as a set, `q(c | class k)`, with the same statistic
    network (`l2l.statistician.NeuralStatistician`), and pick the class of smallest
    `KL(q(c | query) || q(c | class k))`; the logits are minus those KLs (a class absent from
    the episode gets `ABSENT_CLASS_LOGIT`). Pair it with `SupportSetLearner`, which hands over
    the labelled support set, and no shared `MetaModel` encoder: the statistician's encoder
    reads the raw examples, and the likelihood needs their pixels.

    Training. When called with `training=True` it adds the negative ELBO of the episode to
    the model's loss (`add_loss`), in nats per example and per input dimension (pixel), times
    `elbo_weight`: each class's support examples are one set (its ELBO with `q(c | class k)`)
    and each query a set of its own (queries' labels are not the predictor's to see). Per
    dimension puts it on the scale of the classification loss; the ELBO's own balance of
    likelihood and KL terms is unchanged. The classification loss is the model's compiled
    loss (`l2l.presets`: the `"statistician"` kind trains on both, `"statistician_elbo"`
    on the ELBO only, as the paper does).

    Args:
        statistician: the `NeuralStatistician`.
        elbo_weight: weight of the ELBO term in the loss (0: the classification loss only).

    Example:

    >>> import numpy as np, keras
    >>> from l2l.learners import SupportSetLearner
    >>> from l2l.predictors import StatisticianPredictor
    >>> from l2l.statistician import NeuralStatistician
    >>> stat = NeuralStatistician(encoder=keras.layers.Flatten(), context_dim=4, units=(8,))
    >>> support = SupportSetLearner(ways=2)(np.ones((1, 2, 3, 3, 1)), np.array([[0, 1]]),
    ...                                     np.ones((1, 2)))
    >>> tuple(StatisticianPredictor(stat)(np.ones((1, 5, 3, 3, 1)), support).shape)
    (1, 5, 2)
    """

    def __init__(self, statistician, elbo_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not (isinstance(elbo_weight, int | float) and elbo_weight >= 0):
            raise invalid_value("elbo_weight", elbo_weight, "a number >= 0")
        self.statistician, self.elbo_weight = statistician, float(elbo_weight)

    def build(self, query_x_shape, learner_output_shape=None):
        if not self.statistician.built:
            self.statistician.build(query_x_shape)
        self.built = True

    def call(self, query_x, learner_output, training=None):
        labels = require(learner_output, CONTEXT, self)
        keys, mask = learner_output[CONTEXT_KEYS], learner_output[CONTEXT_MASK]
        if tuple(keys.shape[2:]) != tuple(query_x.shape[2:]):
            raise invalid_value(
                "query_x", query_x, f"examples of the support examples' shape "
                f"{tuple(keys.shape[2:])}", "pair StatisticianPredictor with "
                "SupportSetLearner and give the MetaModel no shared encoder")
        stat = self.statistician
        support_size = keys.shape[1] or ops.shape(keys)[1]
        both = ops.concatenate([ops.cast(keys, self.compute_dtype),
                                ops.cast(query_x, self.compute_dtype)], axis=1)
        features = stat.features(both, training)  # one encoder call: shared batch statistics
        support, queries = features[:, :support_size], features[:, support_size:]
        mask = ops.cast(mask, features.dtype)
        classes, sizes = stat.set_contexts(support, labels, mask)
        singles = stat.example_contexts(queries)
        kl = ops.sum(gaussian_kl_terms(*(ops.expand_dims(v, 2) for v in singles),
                                       *(ops.expand_dims(v, 1) for v in classes)), axis=-1)
        absent = ops.cast(ABSENT_CLASS_LOGIT, kl.dtype) * ops.ones_like(kl)
        logits = ops.where(ops.expand_dims(sizes, 1) > 0, -kl, absent)
        if training and self.elbo_weight > 0:
            self.add_loss(self.elbo_weight * self._negative_elbo(
                both[:, :support_size], both[:, support_size:], support, queries, labels,
                mask, classes, sizes, singles))
        return logits

    def _negative_elbo(self, support_x, query_x, support, queries, labels, mask, classes,
                       sizes, singles):
        """Minus the ELBO of the episode's sets, per example and per input dimension."""
        stat = self.statistician
        elbo = ops.sum(stat.elbo_given_contexts(support_x, support, labels, mask, classes,
                                                sizes))
        num_queries = ops.shape(queries)[1]
        own = ops.broadcast_to(ops.eye(num_queries, dtype=queries.dtype)[None],
                               (ops.shape(queries)[0], num_queries, num_queries))
        query_mask = ops.ones(ops.shape(queries)[:2], dtype=queries.dtype)
        elbo = elbo + ops.sum(stat.elbo_given_contexts(query_x, queries, own, query_mask,
                                                       singles, query_mask))
        examples = ops.sum(mask) + ops.cast(ops.size(query_mask), mask.dtype)
        return -elbo / (examples * stat.pixels)

    def get_config(self):
        return {**super().get_config(), "elbo_weight": self.elbo_weight,
                **serialize_layers(statistician=self.statistician)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "statistician"))


@register
class WeightedCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy of logits, times `weight`.

    The compiled classification loss of a model trained on a weighted sum of it and the
    losses its layers add (`StatisticianPredictor`'s ELBO); `weight=0` trains on those alone,
    while the accuracy metric still reports classification.

    >>> import numpy as np
    >>> loss = WeightedCrossEntropy(0.5)(np.array([[0]]), np.array([[[0.0, 0.0]]]))
    >>> round(float(loss), 4)  # log(2) / 2
    0.3466
    """

    def __init__(self, weight: float = 1.0, name: str = "weighted_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not (isinstance(weight, int | float) and weight >= 0):
            raise invalid_value("weight", weight, "a number >= 0")
        self.weight = float(weight)

    def call(self, y_true, y_pred):
        return self.weight * keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=True)

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}
