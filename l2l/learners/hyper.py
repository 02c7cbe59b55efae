"""Hypernetwork learners: the support set in, the predictor's dense weights out."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.errors import InvalidValueError
from l2l.learners.base import FEATURES, WEIGHTS
from l2l.learners.pooling import PooledLearner
from l2l.ops import label_size
from l2l.serialization import register


@register
class DenseWeightGenerator(PooledLearner):
    """Emits the kernel and bias of every layer of a dense predictor from a pooled task code.

    Each generated kernel is a learned, shared initialisation plus a task-specific offset,
    `kernel_i = base_i + reshape(Dense(code))`, so training starts from an ordinary MLP and
    learns how each task moves it. Pair it with `GeneratedDensePredictor`.

    Args:
        layer_units: output size of each generated predictor layer, last one included.
        input_dim: input size of the first generated layer (the query embedding size); by
            default the size of the support examples' last axis (right with a shared encoder).
        code_dim, units, encoder, use_labels, ways: as for `PooledLearner`; for N-way
            classification set `ways` and end `layer_units` with `ways` (one logit per class).
        offset_scale: initial size of the task-specific offsets relative to the base weights.

    The output holds `"weights"` (`"kernel_i" [B, in, out]`, `"bias_i" [B, out]`) and the
    task code as `"features"`.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import DenseWeightGenerator
    >>> gen = DenseWeightGenerator(layer_units=(16, 1))
    >>> out = gen(np.ones((2, 5, 8)), np.ones((2, 5)), np.ones((2, 5)))
    >>> tuple(out["weights"]["kernel_0"].shape), tuple(out["weights"]["bias_1"].shape)
    ((2, 8, 16), (2, 1))
    """

    def __init__(self, layer_units=(64, 1), input_dim: int | None = None, code_dim: int = 64,
                 units=(128,), encoder=None, use_labels: bool = True, offset_scale: float = 1.0,
                 ways: int | None = None, **kwargs):
        super().__init__(code_dim=code_dim, units=units, encoder=encoder, use_labels=use_labels,
                         ways=ways, **kwargs)
        self.layer_units, self.input_dim = tuple(layer_units), input_dim
        self.offset_scale = offset_scale

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        fan_in = self.input_dim
        if fan_in is None:
            if self.encoder is not None:
                raise InvalidValueError(
                    "DenseWeightGenerator with its own encoder needs input_dim= "
                                 "(the size of the query embedding its weights apply to).")
            fan_in = support_x_shape[-1]
        self.shapes = []
        for out in self.layer_units:
            self.shapes.append((fan_in, out))
            fan_in = out
        self.base_kernels = [
            self.add_weight(shape=s, initializer="glorot_uniform", name=f"base_kernel_{i}")
            for i, s in enumerate(self.shapes)]
        self.base_biases = [self.add_weight(shape=(s[1],), initializer="zeros",
                                            name=f"base_bias_{i}")
                            for i, s in enumerate(self.shapes)]
        # Each offset starts with about `offset_scale` times the variance of a Glorot kernel
        # of its layer, so the task visibly moves the predictor from the first step.
        self.kernel_heads = [
            layers.Dense(a * b, kernel_initializer=keras.initializers.VarianceScaling(
                self.offset_scale / max(a, 1)), name=f"kernel_head_{i}")
            for i, (a, b) in enumerate(self.shapes)]
        self.bias_heads = [layers.Dense(b, name=f"bias_head_{i}")
                           for i, (_, b) in enumerate(self.shapes)]
        code_size = self.code_dim
        if code_size is None:  # the code is the pooled examples themselves
            code_size = self.shapes[0][0] + (
                label_size(support_y_shape, self.ways) if self.use_labels else 0)
        code_shape = (None, code_size)
        for head in self.kernel_heads + self.bias_heads:
            head.build(code_shape)
        self.built = True

    def call(self, support_x, support_y, support_mask, training=None):
        code = self.task_code(support_x, support_y, support_mask, training)
        weights = {}
        for i, (fan_in, out) in enumerate(self.shapes):
            offset = ops.reshape(self.kernel_heads[i](code), (-1, fan_in, out))
            # The offset goes first: keras.ops.add(x1, x2) treats an x2 of higher rank that
            # squeezes to a vector as a bias and returns x1's shape (Keras 3.15).
            weights[f"kernel_{i}"] = offset + self.base_kernels[i]
            weights[f"bias_{i}"] = self.base_biases[i] + self.bias_heads[i](code)
        return {WEIGHTS: weights, FEATURES: code}

    def get_config(self):
        return {**super().get_config(), "layer_units": list(self.layer_units),
                "input_dim": self.input_dim, "offset_scale": self.offset_scale}
