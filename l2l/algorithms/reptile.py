"""Reptile (Nichol et al., 2018): move the initialisation towards the adapted parameters.

For every episode of a batch, Reptile takes `inner_steps` plain gradient steps from the
current initialisation `theta` on the support set (all episodes at once, first order), then
treats `theta - mean_b(phi_b)` as the meta-gradient and hands it to the compiled optimizer:
`keras.optimizers.SGD(epsilon)` gives the classic `theta += epsilon * (mean(phi) - theta)`.
This is the one algorithm here with its own `train_step`. The reported loss is the query loss
after adaptation, as for MAML.

Example:

>>> import keras
>>> from l2l.algorithms import Reptile
>>> from l2l.tasks import SinusoidTask
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="relu"),
...                         keras.layers.Dense(1)])
>>> reptile = Reptile(net, inner_steps=3, inner_learning_rate=0.02)
>>> reptile.compile(keras.optimizers.SGD(1.0))
>>> history = reptile.fit(SinusoidTask(shots=5).dataset(4, seed=0), steps_per_epoch=2,
...                       verbose=0)
>>> sorted(history.history)
['loss']
"""

from __future__ import annotations

import keras
from keras import ops

from l2l.algorithms.base import GradientMetaLearner
from l2l.serialization import register


@register
class Reptile(GradientMetaLearner):
    """Reptile meta-learning of `model`'s initial parameters (arguments as
    `GradientMetaLearner`; `first_order` is implied). Compile with the outer optimizer,
    `keras.optimizers.SGD(epsilon)` for the update of the paper."""

    def __init__(self, model, loss="mse", inner_steps: int = 5,
                 inner_learning_rate: float = 0.02, test_steps: int | None = None,
                 stop_tolerance: float | None = None, **kwargs):
        kwargs.pop("first_order", None)  # vectorize, batch_norm: as GradientMetaLearner
        super().__init__(model, loss=loss, inner_steps=inner_steps,
                         inner_learning_rate=inner_learning_rate, test_steps=test_steps,
                         first_order=True, stop_tolerance=stop_tolerance, **kwargs)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = self.checked_inputs(x)
        adapted = self._adapt(x, None, True, None)
        variables = self.model.trainable_variables
        directions = [ops.convert_to_tensor(v) - ops.mean(p, axis=0)
                      for v, p in zip(variables, adapted.params, strict=True)]
        self.optimizer.apply(directions, variables)
        y_pred = self.call_with_params(adapted.params, x["query_x"], training=True,
                                       update_statistics=True)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=True)
        self._loss_tracker.update_state(loss, sample_weight=ops.shape(y_pred)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.pop("first_order")
        return config
