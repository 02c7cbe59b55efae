"""Run a Keras model layer by layer with per-episode parameters, as batched operations.

`structural_call(model, params, x)` walks the layers of `model` (a `Sequential`, or a
functional model whose layers form one chain; nested ones are walked too) and applies each
to `x [B, n, ...]` with the parameters `params` (in `model.trainable_variables` order; a
tensor `[B, *shape]` is per episode, one of the variable's own shape is shared by all):

- `Dense`: one batched matmul (`l2l.ops.episode_matmul`) for all episodes;
- `Conv2D` (stride 1, no dilation, one group): `l2l.algorithms.batched_conv.episode_conv2d`;
  with a shared kernel it is one ordinary convolution over all `B * n` images;
- `BatchNormalization` (last axis): see `BATCH_NORM_MODES`;
- parameter-free per-example layers (`PER_EXAMPLE`: pooling, `Flatten`, `Reshape`,
  activations, `Dropout`, `Rescaling`, ...): applied to the `B * n` examples at once.

Any other layer raises `UnsupportedLayerError` naming it (use `vectorize="pfor"` for those).
There is no loop over episodes, so the traced graph has no `while` and XLA compiles it.

Example:

>>> import numpy as np, keras
>>> from l2l.algorithms.functional import stack_params
>>> net = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3),
...                         keras.layers.BatchNormalization(), keras.layers.ReLU(),
...                         keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
...                         keras.layers.Dense(3)])
>>> params = stack_params(net.trainable_variables, batch_size=2)
>>> tuple(structural_call(net, params, np.ones((2, 5, 6, 6, 1), "float32")).shape)
(2, 5, 3)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from l2l.algorithms.batched_conv import episode_conv2d
from l2l.errors import InvalidTypeError
from l2l.ops import episode_matmul

BATCH_NORM_MODES = ("transductive", "running")
"""How `BatchNormalization` normalises inside the inner loop and at test time:

- `"transductive"` (MAML's setting, Finn et al. 2017): every call normalises each episode's
  examples with their own batch statistics, in training and at test time alike; the support
  set by support statistics, the queries by query statistics (so a query's prediction depends
  on the other queries of its episode). Moving statistics are neither used nor updated.
- `"running"` (non-transductive): in training, per-episode batch statistics, and the layer's
  moving statistics are updated from the queries of every episode (momentum as the layer's);
  at test time the moving statistics, so each query is predicted on its own.
"""

PER_EXAMPLE = (
    keras.layers.InputLayer, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.ELU, keras.layers.Softmax, keras.layers.Flatten, keras.layers.Reshape,
    keras.layers.Dropout, keras.layers.Rescaling, keras.layers.Identity,
    keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D, keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D, keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D, keras.layers.ZeroPadding2D,
)
"""Parameter-free layers that act on each example alone: applied to all `B * n` at once."""


class UnsupportedLayerError(InvalidTypeError):
    """The batched engine has no per-episode form of a layer of the wrapped model."""


def structural_call(model: keras.Layer, params, x, training: bool = False,
                    batch_norm: str = "transductive", conv: str = "grouped",
                    update_statistics: bool = False):
    """`model` on `x [B, n, ...]` with per-episode (or shared) `params`; see the module."""
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    for layer in chain(model):
        x = _apply(layer, [_param(v, index, params) for v in layer.weights], x,
                   training=training, batch_norm=batch_norm, conv=conv,
                   update_statistics=update_statistics)
    return x


def chain(model: keras.Layer) -> list:
    """The leaf layers of `model` in order, if they form one chain; else `UnsupportedLayerError`."""
    if not isinstance(model, keras.Model):
        return [model]
    if not isinstance(model, keras.Sequential):
        _check_linear(model)
    layers = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            layers += chain(layer) if isinstance(layer, keras.Model) else [layer]
    return layers


def check_supported(model: keras.Layer) -> None:
    """Raise `UnsupportedLayerError` for the first layer of `model` with no batched form."""
    for layer in chain(model):
        _check_layer(layer)


def _check_linear(model):
    previous = model.inputs
    if len(previous) != 1 or len(model.outputs) != 1:
        raise UnsupportedLayerError(
            f"The batched engine runs models with one input and one output; {model.name!r} "
            f"has {len(previous)} and {len(model.outputs)}. Fix: use vectorize='pfor'.")
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.input is not previous[0]:
            raise _not_a_chain(layer, model)
        previous = [layer.output]
    if previous[0] is not model.outputs[0]:
        raise _not_a_chain(model.layers[-1], model)


def _not_a_chain(layer, model):
    return UnsupportedLayerError(
        f"The batched engine runs models whose layers form one chain; layer {layer.name!r} of "
        f"{model.name!r} branches, merges or is shared. Fix: use vectorize='pfor', or a "
        "keras.Sequential model.")


def _check_layer(layer):
    if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
        problems = [name for name, bad in (
            ("strides", tuple(layer.strides) != (1, 1)),
            ("dilation_rate", tuple(layer.dilation_rate) != (1, 1)),
            ("groups", layer.groups != 1),
            ("data_format", layer.data_format != "channels_last")) if bad]
        if problems:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} (Conv2D) has {', '.join(problems)} the batched engine "
                "does not support (it runs stride 1, no dilation, one group, channels_last). "
                "Fix: change the layer, or use vectorize='pfor'.")
        return
    if type(layer) is keras.layers.Dense and not getattr(layer, "lora_enabled", False):
        return
    if type(layer) is keras.layers.BatchNormalization:
        if layer.axis not in (-1, len(layer.input.shape) - 1) or layer.renorm:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} (BatchNormalization) normalises axis {layer.axis}; the "
                "batched engine supports the last axis only, without renorm. Fix: use "
                "vectorize='pfor'.")
        return
    if isinstance(layer, PER_EXAMPLE) and not layer.weights:
        return
    raise UnsupportedLayerError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no batched per-episode form. "
        "Supported: Dense, Conv2D, BatchNormalization and parameter-free per-example layers "
        f"({', '.join(sorted({t.__name__ for t in PER_EXAMPLE}))}). Fix: use "
        "vectorize='pfor' (tf.vectorized_map over stateless_call), which runs any layer.")


def _param(variable, index, params):
    i = index.get(id(variable))
    return tf.convert_to_tensor(variable) if i is None else params[i]


def _per_episode(p, variable):
    return len(p.shape) == len(variable.shape) + 1


def _apply(layer, weights, x, *, training, batch_norm, conv, update_statistics):
    _check_layer(layer)
    dtype = layer.compute_dtype
    if isinstance(layer, keras.layers.Dense):
        x = tf.cast(x, dtype)
        kernel = tf.cast(weights[0], dtype)
        if _per_episode(kernel, layer.kernel):
            y = episode_matmul(x, kernel)
        else:
            y = tf.tensordot(x, kernel, axes=1)
        if layer.use_bias:
            y = y + _broadcast_to_rank(tf.cast(weights[1], dtype), layer.bias, len(y.shape))
        return layer.activation(y)
    if isinstance(layer, keras.layers.Conv2D):
        return _conv2d(layer, weights, tf.cast(x, dtype), conv)
    if isinstance(layer, keras.layers.BatchNormalization):
        return _batch_norm(layer, weights, x, training, batch_norm, update_statistics)
    return _merged(lambda t: layer(t, training=training), x)


def _broadcast_to_rank(p, variable, rank):
    """A per-episode `[B, C]` (or shared `[C]`) parameter shaped to add to `[B, n, ..., C]`."""
    if _per_episode(p, variable):
        shape = _shape(p)
        return tf.reshape(p, [shape[0], *[1] * (rank - 2), *shape[1:]])
    return p


def _conv2d(layer, weights, x, method):
    kernel = tf.cast(weights[0], x.dtype)
    kh, kw = layer.kernel_size
    if layer.padding == "same":
        x = tf.pad(x, [[0, 0], [0, 0], [(kh - 1) // 2, kh // 2], [(kw - 1) // 2, kw // 2],
                       [0, 0]])
    if _per_episode(kernel, layer.kernel):
        y = episode_conv2d(x, kernel, method)
    else:
        y = _merged(lambda t: tf.nn.conv2d(t, kernel, 1, "VALID"), x)
    if layer.use_bias:
        y = y + _broadcast_to_rank(tf.cast(weights[1], y.dtype), layer.bias, 5)
    return layer.activation(y)


def _batch_norm(layer, weights, x, training, mode, update_statistics):
    named = dict(zip((w.path.split("/")[-1] for w in layer.weights), weights, strict=True))
    x = tf.cast(x, "float32") if x.dtype in (tf.float16, tf.bfloat16) else x
    rank = len(x.shape)
    if mode == "running" and not training:
        mean = tf.cast(named["moving_mean"], x.dtype)
        variance = tf.cast(named["moving_variance"], x.dtype)
    else:
        axes = list(range(1, rank - 1))  # each episode's examples and positions
        mean, variance = tf.nn.moments(x, axes, keepdims=True)
        if mode == "running" and training and update_statistics:
            _update_moving(layer, tf.reduce_mean(mean, axis=0), tf.reduce_mean(variance, axis=0))
    y = (x - mean) * tf.math.rsqrt(variance + layer.epsilon)
    if layer.scale:
        y = y * _broadcast_to_rank(tf.cast(named["gamma"], x.dtype), layer.gamma, rank)
    if layer.center:
        y = y + _broadcast_to_rank(tf.cast(named["beta"], x.dtype), layer.beta, rank)
    return tf.cast(y, layer.compute_dtype)


def _update_moving(layer, mean, variance):
    mean = tf.stop_gradient(tf.reshape(mean, layer.moving_mean.shape))
    variance = tf.stop_gradient(tf.reshape(variance, layer.moving_variance.shape))
    m = layer.momentum
    layer.moving_mean.assign(m * layer.moving_mean + (1 - m) * mean)
    layer.moving_variance.assign(m * layer.moving_variance + (1 - m) * variance)


def _merged(fn, x):
    """`fn` on the `B * n` examples of `x [B, n, ...]` as one batch, reshaped back."""
    shape = _shape(x)
    y = fn(tf.reshape(x, [-1, *shape[2:]]))
    return tf.reshape(y, [*shape[:2], *_shape(y)[1:]])


def _shape(t) -> list:
    """The shape of `t`, static sizes as ints, unknown ones as scalar tensors."""
    dynamic = tf.shape(t)
    return [d if d is not None else dynamic[i] for i, d in enumerate(t.shape)]
