"""Reptile (Nichol et al., 2018): move the initialisation towards the adapted parameters.

For every episode of a batch, Reptile takes `inner_steps` plain gradient steps from the
current initialisation `theta` on the support set (all episodes at once, first order), then
treats `theta - mean_b(phi_b)` as the meta-gradient and hands it to the compiled optimizer:
`keras.optimizers.SGD(epsilon)` gives the classic `theta += epsilon * (mean(phi) - theta)`.
This is the one algorithm here with its own `train_step`; under a `tf.distribute` strategy
it divides the direction by the number of replicas (the optimizer sums them), so the update
is the one-device update on the same global batch. The reported loss is the query loss
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
import tensorflow as tf
from keras import ops

from l2l.algorithms.base import GradientMetaLearner
from l2l.episodes import QUERY_X
from l2l.keras_compat import update_loss_metric
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
        # Under a tf.distribute strategy every replica sees its share of the global batch and
        # the optimizer sums the replicas' directions: divide by their number, so the update
        # is theta - mean(phi) over the global batch, as on one device.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        directions = [(ops.convert_to_tensor(v) - ops.mean(p, axis=0)) / replicas
                      for v, p in zip(variables, adapted.params, strict=True)]
        self.optimizer.apply(directions, variables)
        y_pred = self.call_with_params(adapted.params, x[QUERY_X], training=True,
                                       update_statistics=True)
        # The compiled loss is divided by the number of replicas (Keras's convention for
        # gradients); the logged loss is the mean over this replica's episodes.
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                 training=True) * replicas
        update_loss_metric(self, loss, sample_weight=ops.shape(y_pred)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.pop("first_order")
        return config
