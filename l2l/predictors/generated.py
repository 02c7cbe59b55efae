"""Predictors whose weights come from the learner, one set per episode."""

from __future__ import annotations

import keras
from keras import ops

from l2l.errors import InvalidValueError
from l2l.learners.base import WEIGHTS
from l2l.ops import episode_matmul
from l2l.predictors.base import Predictor, require
from l2l.serialization import register


@register
class GeneratedDensePredictor(Predictor):
    """A dense network whose kernels and biases are the learner's `"weights"` output.

    Layer `i` computes `h @ kernel_i + bias_i` with the episode's own `kernel_i [B, in, out]`
    (`l2l.ops.episode_matmul` over the batch of episodes), followed by `activation` except
    after the last.
    It has no weights of its own. Pair it with `DenseWeightGenerator`.

    Example:

    >>> import numpy as np
    >>> from l2l.predictors import GeneratedDensePredictor
    >>> w = {"kernel_0": np.ones((2, 3, 4)), "bias_0": np.zeros((2, 4)),
    ...      "kernel_1": np.ones((2, 4, 1)), "bias_1": np.zeros((2, 1))}
    >>> tuple(GeneratedDensePredictor()(np.ones((2, 6, 3)), {"weights": w}).shape)
    (2, 6)
    """

    def __init__(self, activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self._activation = keras.activations.get(activation)

    def call(self, query_x, learner_output, training=None):
        weights = require(learner_output, WEIGHTS, self)
        depth = len([k for k in weights if k.startswith("kernel_")])
        h = ops.cast(query_x, self.compute_dtype)
        for i in range(depth):
            kernel = weights[f"kernel_{i}"]
            if h.shape[-1] is not None and kernel.shape[1] is not None and (
                    h.shape[-1] != kernel.shape[1]):
                raise InvalidValueError(
                    f"Generated kernel_{i} expects inputs of size {kernel.shape[1]} but the "
                    f"query features have size {h.shape[-1]}; set the learner's input_dim to "
                    f"{h.shape[-1]}.")
            h = episode_matmul(h, kernel) + ops.expand_dims(weights[f"bias_{i}"], 1)
            if i < depth - 1:
                h = self._activation(h)
        return ops.squeeze(h, -1) if h.shape[-1] == 1 else h

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
