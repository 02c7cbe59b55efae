"""MAML and Meta-SGD: meta-learned initialisation, and per-parameter inner learning rates.

- `MAML` (Finn et al., 2017) learns the initial parameters from which a few gradient steps
  on a task's support set give a low query loss; `first_order=True` is first-order MAML.
- `MetaSGD` (Li et al., 2017) also learns one inner learning rate per parameter (any sign,
  initialised to `inner_learning_rate`), so the inner update is `phi - alpha * grad`.

Both train with Keras's own `train_step`: the base class's `call` runs the inner loop
differentiably, so the query loss's gradient reaches the initialisation (and the rates).

Example:

>>> import keras
>>> from l2l.algorithms import MetaSGD
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8), keras.layers.Dense(1)])
>>> meta_sgd = MetaSGD(net, inner_learning_rate=0.01)
>>> [tuple(r.shape) for r in meta_sgd.learning_rates]
[(1, 8), (8,), (8, 1), (1,)]
"""

from __future__ import annotations

import keras
from keras import ops

from l2l.algorithms.base import GradientMetaLearner
from l2l.serialization import register


@register
class MAML(GradientMetaLearner):
    """Model-agnostic meta-learning of `model`'s initial parameters (see `GradientMetaLearner`
    for the arguments)."""


@register
class MetaSGD(GradientMetaLearner):
    """MAML with a learned inner learning rate for every parameter.

    `learning_rates` holds one variable per trainable variable of the wrapped model, same
    shape, initialised to `inner_learning_rate` and meta-trained with the initialisation.
    """

    def create_variables(self) -> None:
        self.learning_rates = [
            self.add_weight(shape=v.shape, name=f"learning_rate_{i}",
                            initializer=keras.initializers.Constant(self.inner_learning_rate),
                            dtype=v.dtype)
            for i, v in enumerate(self.model.trainable_variables)]

    def inner_rates(self, theta, phi) -> list:
        return [ops.convert_to_tensor(r) for r in self.learning_rates]
