"""FiLM predictor: a network whose channels the learner scales and shifts per episode."""

from __future__ import annotations

from keras import layers, ops

from l2l.errors import InvalidValueError
from l2l.learners.base import CONTEXT, CONTEXT_KEYS, CONTEXT_MASK, WEIGHTS
from l2l.ops import class_means, prototype_head
from l2l.predictors.base import Predictor, require
from l2l.serialization import register

HEADS = ("dense", "prototypes")


@register
class FiLMPredictor(Predictor):
    """Conv (or dense) blocks modulated by the learner's FiLM parameters, then a head.

    Block `i` is `Conv2D(blocks[i], 3) -> FiLM -> ReLU -> MaxPool(2)` for image queries
    `[B, Q, H, W, C]` and `Dense(blocks[i]) -> FiLM -> ReLU` for vector queries `[B, Q, D]`,
    where FiLM is `h * film_scale_i + film_shift_i` with the episode's own per-channel
    parameters (CNAPs, Requeima et al., 2019). The block weights are shared by all tasks;
    only the modulation is task-specific. Pair it with `FiLMGenerator`.

    Heads:
        `"dense"`: a shared `Dense(output_units)` on the flattened features (regression);
        `"prototypes"`: the support set (the learner's context, embedded by the same adapted
            blocks) gives class prototypes and a nearest-prototype linear head (as
            `PrototypeHeadGenerator`), so the output is class logits `[B, Q, ways]`.

    Args:
        blocks: channels (conv) or units (dense) of each block; the learner's `channels`.
        output_units: outputs per query of the `"dense"` head (1 gives `[B, Q]`).
        head: `"dense"` or `"prototypes"`.
        input_scale: inputs are multiplied by this first (1/255 for uint8 images).

    Example:

    >>> import numpy as np
    >>> from l2l.predictors import FiLMPredictor
    >>> film = {"film_scale_0": np.ones((2, 4)), "film_shift_0": np.zeros((2, 4))}
    >>> out = FiLMPredictor(blocks=(4,))(np.ones((2, 3, 8, 8, 1)), {"weights": film})
    >>> tuple(out.shape)
    (2, 3)
    """

    def __init__(self, blocks=(32, 32), output_units: int = 1, head: str = "dense",
                 input_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if head not in HEADS:
            raise InvalidValueError(f"Unknown FiLMPredictor head {head!r}; choose one of {HEADS}.")
        self.blocks, self.output_units = tuple(int(b) for b in blocks), output_units
        self.head, self.input_scale = head, input_scale
        self.output_layer = layers.Dense(output_units, name="output") if head == "dense" else None

    def build(self, query_x_shape, learner_output_shape=None):
        rank = len(query_x_shape)
        if rank not in (3, 5):
            raise InvalidValueError(f"FiLMPredictor needs image queries [B, Q, H, W, C] or vector "
                             f"queries [B, Q, D], got {tuple(query_x_shape)}.")
        self.conv = rank == 5
        if self.conv:
            self.block_layers = [layers.Conv2D(b, 3, padding="same", name=f"conv_{i}")
                            for i, b in enumerate(self.blocks)]
        else:
            self.block_layers = [layers.Dense(b, name=f"dense_{i}")
                                 for i, b in enumerate(self.blocks)]
        self.built = True  # the blocks build on first call

    def embed(self, x, weights, training=None):
        """`x [B, N, ...]` through the FiLM-modulated blocks: `[B, N, F]`."""
        batch, n = ops.shape(x)[0], x.shape[1] or ops.shape(x)[1]
        h = ops.reshape(ops.cast(x, self.compute_dtype) * self.input_scale,
                        (-1, *x.shape[2:]))
        for i, layer in enumerate(self.block_layers):
            scale, shift = weights[f"film_scale_{i}"], weights[f"film_shift_{i}"]
            if scale.shape[-1] != self.blocks[i]:
                raise InvalidValueError(
                    f"film_scale_{i} has {scale.shape[-1]} channels but block {i} "
                                 f"has {self.blocks[i]}: set the learner's channels to "
                                 f"{self.blocks}.")
            h = layer(h)
            inner = tuple(h.shape[1:])
            expand = (1,) * (len(inner) - 1)
            h = ops.reshape(h, (batch, n, *inner))
            h = (h * ops.reshape(scale, (batch, 1, *expand, inner[-1]))
                 + ops.reshape(shift, (batch, 1, *expand, inner[-1])))
            h = ops.relu(ops.reshape(h, (-1, *inner)))
            if self.conv:
                h = ops.max_pool(h, 2, 2, padding="same")
        return ops.reshape(h, (batch, n, -1))

    def call(self, query_x, learner_output, training=None):
        weights = require(learner_output, WEIGHTS, self)
        if self.head == "dense":
            y = self.output_layer(self.embed(query_x, weights, training))
            return ops.squeeze(y, -1) if self.output_units == 1 else y
        labels = require(learner_output, CONTEXT, self)
        keys, mask = learner_output[CONTEXT_KEYS], learner_output[CONTEXT_MASK]
        num_queries = query_x.shape[1] or ops.shape(query_x)[1]
        both = ops.concatenate([ops.cast(query_x, "float32"), ops.cast(keys, "float32")], axis=1)
        h = self.embed(both, weights, training)
        q, k = h[:, :num_queries], h[:, num_queries:]
        kernel, bias = prototype_head(*class_means(k, ops.cast(labels, k.dtype), mask))
        return ops.einsum("bqd,bdn->bqn", q, kernel) + ops.expand_dims(bias, 1)

    def get_config(self):
        return {**super().get_config(), "blocks": list(self.blocks),
                "output_units": self.output_units, "head": self.head,
                "input_scale": self.input_scale}

