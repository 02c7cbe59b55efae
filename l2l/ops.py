"""Small tensor operations on sets of examples, shared by learners and predictors."""

from __future__ import annotations

from keras import ops

from l2l.errors import invalid_value


def apply_per_example(layer, x, training=None):
    """Apply `layer` to every example of a batch of sets: `[B, S, ...]` -> `[B, S, ...]`.

    The `B * S` examples go through the layer as one batch, which is what makes batched
    episodes fast. `training=None` runs the layer in inference mode.

    Example:

    >>> import numpy as np, keras
    >>> from l2l.ops import apply_per_example
    >>> apply_per_example(keras.layers.Dense(3), np.zeros((2, 5, 4))).shape
    TensorShape([2, 5, 3])
    """
    shape = ops.shape(x)
    flat = ops.reshape(x, (-1,) + tuple(x.shape[2:]))
    # `training=None` (an eager call outside fit/predict) means inference. Say so explicitly:
    # a Sequential first built inside a training trace records `training=True` for its
    # BatchNormalization nodes and would otherwise keep normalising with batch statistics.
    y = layer(flat, training=False if training is None else training)
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


# A logit that no class with support examples can lose to: the score of classes that are absent
# from an episode's support set (fewer ways than the model was built for).
ABSENT_CLASS_LOGIT = -1e9


def label_features(y, ways: int | None, dtype):
    """Support targets as float features `[B, S, D]`: one-hot classes when `ways` is set.

    With `ways=None` the targets are regression values (`as_features`); integer targets then
    raise, since a class index is not a number to regress on. With `ways=N` the targets are
    class indices `[B, S]` (or `[B, S, 1]`) in `0..N-1` and become one-hot `[B, S, N]`.

    Example:

    >>> import numpy as np
    >>> from l2l.ops import label_features
    >>> label_features(np.array([[2, 0]]), 3, "float32").numpy().tolist()
    [[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]
    """
    if ways is None:
        if "int" in str(getattr(y, "dtype", "")):
            raise invalid_value(
                "support_y", y, "float targets, since the learner was built without ways=",
                "integer class labels need ways=: pass ways=N (the classes per episode) so the "
                "learner can one-hot them")
        return as_features(y, dtype)
    if len(y.shape) == 3 and y.shape[-1] == 1:
        y = ops.squeeze(y, -1)
    if len(y.shape) != 2:
        raise invalid_value("support_y", y, f"class indices of shape [B, S] (ways={ways})",
                            "one-hot or multi-output targets need ways=None")
    # Labels outside 0..ways-1 would one-hot to zeros (silently wrong): checked here, where
    # class labels enter every classification learner.
    from l2l.validation import checked_labels

    y = checked_labels(y, ways, "support_y", "the learner")
    return ops.one_hot(ops.cast(y, "int32"), ways, dtype=dtype)


def class_means(x, onehot, mask):
    """Per-class means of support embeddings: the prototypes of Prototypical Networks.

    Args:
        x: `[B, S, D]` support embeddings.
        onehot: `[B, S, N]` one-hot labels.
        mask: `[B, S]`, 0.0 for padding (ignored).

    Returns:
        `(means [B, N, D], counts [B, N])`; a class without examples has mean 0 and count 0.

    Example:

    >>> import numpy as np
    >>> from l2l.ops import class_means
    >>> x = np.array([[[1.0], [3.0], [9.0]]])
    >>> onehot = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    >>> means, counts = class_means(x, onehot, np.array([[1.0, 1.0, 0.0]]))
    >>> means.numpy().ravel().tolist(), counts.numpy().ravel().tolist()
    ([2.0, 0.0], [2.0, 0.0])
    """
    weights = ops.cast(onehot, x.dtype) * ops.expand_dims(ops.cast(mask, x.dtype), -1)
    counts = ops.sum(weights, axis=1)
    sums = ops.einsum("bsn,bsd->bnd", weights, x)
    return sums / ops.expand_dims(ops.maximum(counts, ops.cast(1.0, x.dtype)), -1), counts


def episode_matmul(x, kernel):
    """`[B, ..., J]`: each episode's `x [B, ..., I]` times its own `kernel [B, I, J]`.

    With `I == 1` (a 1-D regression input, say) this is a broadcast product, not a matmul:
    TensorFlow 2.21's oneDNN CPU kernels for batched matmul corrupt the heap on some shapes
    with a size-1 dimension (tensorflow/tensorflow#117700 and #123109), and with this one a
    fresh process died at its first training step now and then, with `malloc(): unsorted
    double linked list corrupted` or a segmentation fault. `python -m benchmarks run
    onednn_crash` counts those deaths, before and after.

    Example:

    >>> import numpy as np
    >>> from l2l.ops import episode_matmul
    >>> x, kernel = np.ones((2, 3, 1)), np.arange(8.0).reshape(2, 1, 4)
    >>> episode_matmul(x, kernel).numpy()[1, 0].tolist()
    [4.0, 5.0, 6.0, 7.0]
    >>> episode_matmul(np.ones((2, 3, 2)), np.ones((2, 2, 4))).numpy()[0, 0].tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    if kernel.shape[1] == 1:
        row = kernel[:, 0]  # [B, J]
        for _ in range(len(x.shape) - 2):
            row = ops.expand_dims(row, 1)
        return x * row
    return ops.einsum("b...i,bij->b...j", x, kernel)


def prototype_head(prototypes, counts):
    """The linear classifier equal to a squared-Euclidean nearest-prototype rule.

    `-|q - p_c|^2 = 2 p_c . q - |p_c|^2 - |q|^2`, and `|q|^2` is the same for every class, so
    softmax over `q @ kernel + bias` with `kernel[:, c] = 2 p_c` and `bias_c = -|p_c|^2` is
    Prototypical Networks' softmax over negative squared distances (Snell et al., 2017).
    Classes with `counts == 0` get the bias `ABSENT_CLASS_LOGIT`, so they are never predicted.

    Returns:
        `(kernel [B, D, N], bias [B, N])`, the format of `GeneratedDensePredictor`'s weights.

    Example:

    >>> import numpy as np
    >>> from l2l.ops import prototype_head
    >>> kernel, bias = prototype_head(np.array([[[1.0, 0.0], [0.0, 2.0]]]), np.ones((1, 2)))
    >>> kernel.numpy()[0].tolist(), bias.numpy()[0].tolist()
    ([[2.0, 0.0], [0.0, 4.0]], [-1.0, -4.0])
    """
    kernel = 2.0 * ops.transpose(prototypes, (0, 2, 1))
    bias = -ops.sum(ops.square(prototypes), axis=-1)
    absent = ops.cast(ABSENT_CLASS_LOGIT, bias.dtype) * ops.ones_like(bias)
    return kernel, ops.where(counts > 0, bias, absent)


def gaussian_kl_terms(mean, log_std, other_mean, other_log_std):
    """`KL(N(mean, s^2) || N(other_mean, p^2))` per coordinate of diagonal Gaussians.

    Every argument broadcasts against the others (`s = exp(log_std)`, `p = exp(other_log_std)`);
    sum the result over the coordinates of one distribution. The closed form is
    `log(p / s) + (s^2 + (mean - other_mean)^2) / (2 p^2) - 1/2`.

    Example:

    >>> import numpy as np
    >>> from l2l.ops import gaussian_kl_terms
    >>> round(float(gaussian_kl_terms(np.log(2.0), 0.0, 0.0, 0.0)), 6)  # (log 2)^2 / 2
    0.240227
    """
    mean = ops.convert_to_tensor(mean)
    log_std, other_mean, other_log_std = (ops.cast(v, mean.dtype)
                                          for v in (log_std, other_mean, other_log_std))
    return (other_log_std - log_std
            + (ops.exp(2 * log_std) + ops.square(mean - other_mean))
            / (2 * ops.exp(2 * other_log_std)) - 0.5)


def key_mask(mask, num_queries):
    """Support mask `[B, S]` as an attention mask `[B, T, S]` (bool): attend to real examples."""
    mask = ops.cast(mask, "bool")
    shape = (ops.shape(mask)[0], num_queries, ops.shape(mask)[1])
    return ops.broadcast_to(ops.expand_dims(mask, 1), shape)


def check_ways(ways: int | None) -> int | None:
    """`ways` (classes per episode) as an int >= 2, or `None`; an error otherwise."""
    if ways is None:
        return None
    try:
        valid = not isinstance(ways, bool) and float(ways).is_integer() and int(ways) >= 2
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise invalid_value("ways", ways, "an integer >= 2 (classes per episode)")
    return int(ways)


def label_size(y_shape, ways: int | None) -> int:
    """The last-axis size of `label_features` for targets of shape `y_shape`."""
    if ways is not None:
        return ways
    return 1 if len(y_shape) == 2 else int(y_shape[-1])


def encoded_vectors(encoder, x, owner, dtype, training=None):
    """`x [B, S, ...]` through the optional per-example `encoder`, as vectors `[B, S, D]`.

    Learners that read vector examples call this; `owner` names the layer in the error raised
    when the examples are not vectors (images without an encoder, say).

    Example:

    >>> import numpy as np
    >>> from l2l.ops import encoded_vectors
    >>> tuple(encoded_vectors(None, np.zeros((2, 3, 4)), "MyLearner", "float32").shape)
    (2, 3, 4)
    """
    if encoder is not None:
        x = apply_per_example(encoder, x, training=training)
    if len(x.shape) != 3:
        name = owner if isinstance(owner, str) else type(owner).__name__
        raise invalid_value("support_x", x, f"vector examples [B, S, D], which {name} reads",
                            "pass encoder= (or give the MetaModel one)")
    return ops.cast(x, dtype)
