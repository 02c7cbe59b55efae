"""Small tensor operations on sets of examples, shared by learners and predictors."""

from __future__ import annotations

from keras import ops


def apply_per_example(layer, x, training=None):
    """Apply `layer` to every example of a batch of sets: `[B, S, ...]` -> `[B, S, ...]`.

    The `B * S` examples go through the layer as one batch, which is what makes batched
    episodes fast.

    Example:

    >>> import numpy as np, keras
    >>> from l2l.ops import apply_per_example
    >>> apply_per_example(keras.layers.Dense(3), np.zeros((2, 5, 4))).shape
    TensorShape([2, 5, 3])
    """
    shape = ops.shape(x)
    flat = ops.reshape(x, (-1,) + tuple(x.shape[2:]))
    y = layer(flat, training=training)
    return ops.reshape(y, (shape[0], shape[1]) + tuple(y.shape[1:]))


def masked_mean(x, mask):
    """Mean of `x [B, S, ...]` over the set axis, counting only examples with `mask [B, S]` = 1."""
    mask = ops.cast(mask, x.dtype)
    weights = ops.reshape(mask, tuple(ops.shape(mask)) + (1,) * (len(x.shape) - 2))
    total = ops.sum(x * weights, axis=1)
    count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, x.dtype))
    return total / count


def as_features(y, dtype):
    """Targets `[B, S]` or `[B, S, D]` as a float feature tensor `[B, S, D]`."""
    y = ops.cast(y, dtype)
    return ops.expand_dims(y, -1) if len(y.shape) == 2 else y
