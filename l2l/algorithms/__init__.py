"""Gradient-based meta-learners over the same `Episode`s as `MetaModel`.

Each wraps any Keras model, adapts a copy of its parameters per episode with a few gradient
steps on the support set (all episodes of a batch at once), and predicts the queries with the
adapted copy, so `predict`, `evaluate` and `l2l.evaluation.evaluate` work as for `MetaModel`.

- `MAML`: learned initialisation, second order (or `first_order=True`).
- `MetaSGD`: plus a learned inner learning rate per parameter.
- `ANIL`: MAML adapting only the head (last layer) in the inner loop.
- `Reptile`: first-order; moves the initialisation towards the adapted parameters.
- `NewtonMAML`: MAML whose inner loop takes regularised block-diagonal Newton steps
  (`l2l.second_order`; first-order meta-gradient).
- `ABML`: probabilistic MAML (amortised Bayesian meta-learning): a Gaussian posterior over
  the adapted parameters, sampled with `sample_functions`.
- `ScaleAwareMAML`: plus a learned per-parameter scale used as a quadratic or quartic
  regulariser around the mean and/or as per-parameter learning rates.

Every one takes `stop_tolerance` for a per-episode automatic stop of the inner loop,
`safe_steps` to undo steps that raise an episode's support loss (`l2l.algorithms.safeguard`),
and runs on conv nets: episodes are batched structurally (`vectorize="batched"`: batched
matmuls and grouped convolutions, XLA-compilable), or by `tf.vectorized_map`
(`vectorize="pfor"`).
"""

from l2l.algorithms.anil import ANIL
from l2l.algorithms.base import Adaptation, GradientMetaLearner
from l2l.algorithms.batched_layers import UnsupportedLayerError
from l2l.algorithms.bayesian import ABML
from l2l.algorithms.maml import MAML, MetaSGD
from l2l.algorithms.priors import quadratic_penalty, quartic_penalty, scaled_rates
from l2l.algorithms.reptile import Reptile
from l2l.algorithms.scaled import ScaleAwareMAML
from l2l.algorithms.second_order import NewtonMAML

__all__ = [
    "ABML",
    "ANIL",
    "MAML",
    "Adaptation",
    "GradientMetaLearner",
    "MetaSGD",
    "NewtonMAML",
    "Reptile",
    "ScaleAwareMAML",
    "UnsupportedLayerError",
    "quadratic_penalty",
    "quartic_penalty",
    "scaled_rates",
]
