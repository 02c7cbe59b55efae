"""Class-head generators: a linear classifier per episode, one weight vector per class.

Both learners pool the support embeddings of each class into a prototype (its mean) and turn
each prototype into that class's weight vector and bias, independently of the other classes,
so they handle any number of shots and ways: a class with no support example (fewer ways than
the model was built for, or all its examples padded) is never predicted. Pair them with
`GeneratedDensePredictor` and a shared `MetaModel` encoder, so queries and support examples are
embedded by the same network.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from l2l.errors import InvalidValueError
from l2l.learners.base import FEATURES, WEIGHTS, Learner
from l2l.ops import (
    ABSENT_CLASS_LOGIT,
    apply_per_example,
    check_ways,
    class_means,
    label_features,
    masked_mean,
    prototype_head,
)
from l2l.serialization import register
from l2l.validation import check_positive_number


class ClassHeadGenerator(Learner):
    """Base class: class prototypes in, `{"kernel_0" [B, D, ways], "bias_0" [B, ways]}` out.

    Subclasses implement `head(prototypes [B, N, D], counts [B, N]) -> (kernel, bias)`.
    """

    def __init__(self, ways: int, **kwargs):
        super().__init__(**kwargs)
        if ways is None:
            raise InvalidValueError(f"{type(self).__name__} classifies: pass ways=N.")
        self.ways = check_ways(ways)

    def call(self, support_x, support_y, support_mask, training=None):
        if len(support_x.shape) != 3:
            raise InvalidValueError(
                f"{type(self).__name__} needs support embeddings [B, S, D], got "
                f"{tuple(support_x.shape)}: give the MetaModel an encoder (the same one must "
                "embed the queries).")
        x = ops.cast(support_x, self.compute_dtype)
        onehot = label_features(support_y, self.ways, x.dtype)
        prototypes, counts = class_means(x, onehot, support_mask)
        kernel, bias = self.head(prototypes, counts, training=training)
        return {WEIGHTS: {"kernel_0": kernel, "bias_0": bias},
                FEATURES: masked_mean(x, support_mask)}

    def head(self, prototypes, counts, training=None):
        """The head `(kernel [B, D, N], bias [B, N])` from class prototypes `[B, N, D]` and
        class counts `[B, N]` (0 for a class absent from the episode)."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "ways": self.ways}


@register
class PrototypeHeadGenerator(ClassHeadGenerator):
    """Prototypical Networks (Snell et al., 2017) as a generated linear head.

    `kernel_c = 2 p_c`, `bias_c = -|p_c|^2`: softmax over `q @ kernel + bias` is softmax over
    the negative squared Euclidean distances `-|q - p_c|^2` (see `l2l.ops.prototype_head`). It
    has no weights (everything is learned by the shared encoder) unless given a temperature:

    Args:
        ways: classes per episode.
        scale: the distances are multiplied by this (an inverse temperature) before the
            softmax; 1 is the paper's rule.
        trainable_scale: learn the scale (as its logarithm) with the rest of the model.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import PrototypeHeadGenerator
    >>> from l2l.predictors import GeneratedDensePredictor
    >>> x = np.array([[[0.0, 0.0], [4.0, 4.0]]])                    # one example per class
    >>> out = PrototypeHeadGenerator(ways=2)(x, np.array([[0, 1]]), np.ones((1, 2)))
    >>> logits = GeneratedDensePredictor()(np.array([[[1.0, 0.0], [3.0, 5.0]]]), out)
    >>> logits.numpy().argmax(-1).tolist()                          # nearest prototype
    [[0, 1]]
    """

    def __init__(self, ways: int, scale: float = 1.0, trainable_scale: bool = False, **kwargs):
        super().__init__(ways, **kwargs)
        self.scale = check_positive_number("scale", scale)
        self.trainable_scale = bool(trainable_scale)

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        if self.scale != 1.0 or self.trainable_scale:  # the paper's rule has no weight
            self.log_scale = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(math.log(self.scale)),
                trainable=self.trainable_scale, name="log_scale")
        self.built = True

    def head(self, prototypes, counts, training=None):
        kernel, bias = prototype_head(prototypes, counts)
        if not hasattr(self, "log_scale"):
            return kernel, bias
        scale = ops.exp(ops.cast(self.log_scale, kernel.dtype))
        return kernel * scale, ops.where(counts > 0, bias * scale, bias)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale,
                "trainable_scale": self.trainable_scale}


@register
class VersaHeadGenerator(ClassHeadGenerator):
    """Amortised per-class head of Versa (Gordon et al., 2019), deterministic.

    An MLP (shared by all classes) maps each class's pooled embedding `p_c` to its weight
    vector and bias, `[w_c, b_c] = MLP(p_c)`. Versa's amortisation network outputs a Gaussian
    over `(w_c, b_c)`; this learner emits its mean. With `residual=True` the MLP outputs a
    correction to the prototype head (`w_c = 2 p_c + dw`, `b_c = -|p_c|^2 + db`), which starts
    training from Prototypical Networks.

    Args:
        ways: classes per episode.
        units: hidden layer sizes of the per-class MLP.
        residual: learn a correction to the prototype head instead of the head itself.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import VersaHeadGenerator
    >>> out = VersaHeadGenerator(ways=3, units=(8,))(
    ...     np.ones((2, 6, 4)), np.array([[0, 1, 2] * 2] * 2), np.ones((2, 6)))
    >>> tuple(out["weights"]["kernel_0"].shape), tuple(out["weights"]["bias_0"].shape)
    ((2, 4, 3), (2, 3))
    """

    def __init__(self, ways: int, units=(128,), residual: bool = False, **kwargs):
        super().__init__(ways, **kwargs)
        self.units, self.residual = tuple(units), residual

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        dim = support_x_shape[-1]
        self.mlp = keras.Sequential(
            [layers.Dense(u, activation="relu") for u in self.units]
            + [layers.Dense(dim + 1, kernel_initializer="zeros" if self.residual
                            else "glorot_uniform")], name="class_mlp")
        self.mlp.build((None, dim))
        self.built = True

    def head(self, prototypes, counts, training=None):
        out = apply_per_example(self.mlp, prototypes, training=training)  # [B, N, D + 1]
        kernel, bias = ops.transpose(out[..., :-1], (0, 2, 1)), out[..., -1]
        if self.residual:
            base_kernel, base_bias = prototype_head(prototypes, counts)
            return kernel + base_kernel, bias + base_bias
        absent = ops.cast(ABSENT_CLASS_LOGIT, bias.dtype) * ops.ones_like(bias)
        return kernel, ops.where(counts > 0, bias, absent)

    def get_config(self):
        return {**super().get_config(), "units": list(self.units), "residual": self.residual}
