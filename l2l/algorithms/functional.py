"""Evaluate a Keras model with per-episode parameters, batched over episodes.

Gradient-based meta-learners keep one copy of the model's trainable parameters per episode,
stacked along a leading `[B]` axis. `batched_call` runs the model on every episode's examples
with that episode's parameters in one computation, two ways (`VECTORIZE`):

- `"batched"` (default): structural batching, `l2l.algorithms.batched_layers`: the model's
  layers are applied one by one as batched operations (Dense as one batched matmul, Conv2D as
  one grouped convolution or im2col matmul, batch norm per episode). No loop over episodes in
  the graph, and XLA compiles it. A layer without a batched form raises
  `UnsupportedLayerError` naming it.
- `"pfor"`: `tf.vectorized_map` over `model.stateless_call`: any layer, but a convolution with
  per-episode kernels falls back to a `while` loop over episodes, and XLA cannot compile that
  loop's gradient. Batch norm then uses the layer's moving statistics (as `stateless_call`
  with `training=False`) or the statistics of each episode's batch (`training=True`).

Gradients of a sum of per-episode losses with respect to the stacked parameters are every
episode's own gradient, in one call.

Example:

>>> import numpy as np, keras
>>> from l2l.algorithms.functional import batched_call, stack_params
>>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3), keras.layers.Dense(1)])
>>> params = stack_params(model.trainable_variables, batch_size=4)
>>> [tuple(p.shape) for p in params]
[(4, 1, 3), (4, 3), (4, 3, 1), (4, 1)]
>>> tuple(batched_call(model, params, np.zeros((4, 5, 1), "float32")).shape)
(4, 5, 1)
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def stack_params(values, batch_size) -> list:
    """One copy of every tensor in `values` per episode: `[*shape]` -> `[batch_size, *shape]`.

    Gradients flow back to `values` (summed over episodes), which is what the meta-gradient of
    a shared initialisation needs.
    """
    values = [tf.convert_to_tensor(v) for v in values]
    return [tf.broadcast_to(v, tf.concat([[batch_size], tf.shape(v)], axis=0)) for v in values]


VECTORIZE = ("batched", "pfor")


def batched_call(model: keras.Layer, params, x, training: bool | None = False,
                 vectorize: str = "batched", batch_norm: str = "transductive",
                 conv: str = "grouped", update_statistics: bool = False):
    """`model` applied to `x [B, n, ...]`, episode `b` with parameters `params[i][b]`.

    `params` lists tensors in the order of `model.trainable_variables`, each `[B, *shape]`
    (one per episode) or, with `vectorize="batched"`, `[*shape]` (shared by every episode).
    `batch_norm` ("transductive" or "running", see `batched_layers.BATCH_NORM_MODES`),
    `conv` ("grouped" or "patches", see `batched_conv`) and `update_statistics` (update the
    moving statistics of "running" batch norm) apply to `vectorize="batched"`. With "pfor",
    non-trainable state (batch-norm statistics) is shared by all episodes and left unchanged.
    """
    if vectorize == "batched":
        from l2l.algorithms.batched_layers import structural_call

        return structural_call(model, list(params), x, training=bool(training),
                               batch_norm=batch_norm, conv=conv,
                               update_statistics=update_statistics)
    if vectorize != "pfor":
        from l2l.errors import invalid_value

        raise invalid_value("vectorize", vectorize, f"one of {VECTORIZE}")
    batch = tf.shape(x)[0]
    params = [p if len(p.shape) == len(v.shape) + 1 else stack_params([p], batch)[0]
              for p, v in zip(params, model.trainable_variables, strict=True)]
    non_trainable = [tf.convert_to_tensor(v) for v in model.non_trainable_variables]

    def one_episode(args):
        episode_params, episode_x = args
        outputs, _ = model.stateless_call(list(episode_params), non_trainable, episode_x,
                                          training=training)
        return outputs

    return tf.vectorized_map(one_episode, (list(params), x))


def per_example_loss(loss_fn, y_true, y_pred):
    """Loss of every example, `[B, n]`, from targets and predictions shaped `[B, n, ...]`.

    `loss_fn(y_true, y_pred)` is a Keras loss function that reduces at most the last axis
    (`keras.losses.get("mse")`, say) or a `keras.losses.Loss` object (its reduction is not
    applied). Targets `[B, n]` against predictions `[B, n, 1]` are
    read as one value per example.
    """
    if isinstance(loss_fn, keras.losses.Loss):
        loss_fn = loss_fn.call  # unreduced, one value per example (a Loss object reduces)
    if len(y_true.shape) == len(y_pred.shape) - 1 and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    if keras.backend.is_float_dtype(y_true.dtype) or len(y_true.shape) == len(y_pred.shape):
        y_true = ops.cast(y_true, y_pred.dtype)
    shape = ops.shape(y_pred)
    flat_true = ops.reshape(y_true, (-1,) + tuple(y_true.shape[2:]))
    flat_pred = ops.reshape(y_pred, (-1,) + tuple(y_pred.shape[2:]))
    values = ops.reshape(loss_fn(flat_true, flat_pred), (shape[0], shape[1], -1))
    return ops.mean(values, axis=-1)
