"""The few places where l2l's custom `train_step`s meet Keras's bookkeeping, in one module.

A `train_step` that does not go through `Model.compute_loss` (Reptile's update, ABML's ELBO,
the block-diagonal Newton step) must still report its loss where `fit` reads it: the model's
loss tracker, which Keras exposes publicly only as the metric named "loss" in `model.metrics`
(keras.io, "Customizing what happens in fit()"). `update_loss_metric` finds it there, so no
private attribute (`_loss_tracker`) is touched.

Example:

>>> import keras
>>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> update_loss_metric(model, 2.0)
>>> float(next(m for m in model.metrics if m.name == "loss").result())
2.0
"""

from __future__ import annotations

import keras


def update_loss_metric(model: keras.Model, loss, sample_weight=None) -> None:
    """Add `loss` to `model`'s loss tracker (the metric named "loss" of a compiled model)."""
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss, sample_weight=sample_weight)
            return
