"""A 2-D convolution with a different kernel per episode, as one batched operation.

`episode_conv2d(x, kernel)` convolves `x [B, n, H, W, C]` (episode `b`'s `n` images) with
`kernel [B, kh, kw, C, K]` (episode `b`'s kernel), stride 1, VALID padding (pad first for
SAME). Two implementations, chosen by `conv_method`:

- `"grouped"`: the episodes folded into the channel axis, `[n, H, W, B*C]`, and one grouped
  convolution with kernel `[kh, kw, C, B*K]` (`tf.nn.conv2d` infers B groups). TensorFlow's
  CPU kernel runs a grouped convolution forward but not its filter gradient (it raises), and
  XLA's own gradient of a grouped convolution takes ~30 s per call on CPU, so the gradient is
  given here (`tf.custom_gradient`) as two more grouped forward convolutions: the input
  gradient with the flipped kernel, the kernel gradient with the roles of batch and channels
  swapped. The gradient is built from this same function, so second derivatives (MAML) work.
- `"patches"`: im2col by `kh * kw` shifted slices of the padded input, then one batched matmul
  `[B, n*H'*W', kh*kw*C] x [B, kh*kw*C, K]`. Only slices, a concat and a matmul: XLA fuses it.

Measured on a 2-core CPU (TF 2.21; 32 episodes x 10 images 14x14x64 -> 64, forward + backward;
a plain shared-kernel conv on the same 320 images: 0.42 s, 0.39 s with XLA): grouped 0.60 s
(0.98 s with XLA); patches 1.35 s (0.45 s with XLA). So `conv_method` picks "patches" under
XLA on CPU and "grouped" otherwise. On a GPU it picks "grouped" (cuDNN runs grouped
convolutions natively); that choice is not measured yet (`benchmarks/device_check.sh` times
both). `L2L_BATCHED_CONV=grouped|patches` overrides the choice.

Known CPU shortfall: for a whole second-order conv4 MAML meta-update (meta-batch 32, 64
filters) on 2 loaded CPU cores, either method took 9-14 s against 3.3 s for the `pfor` path (a
`while` loop of ordinary convolutions), and first-order 3.8 s (grouped) / 7.3 s (patches): the
second derivative of the grouped convolution (grouped convolutions with image-sized kernels)
is slow in TensorFlow's CPU kernels. On CPU, `vectorize="pfor"` is currently faster for conv
nets without XLA; the batched path is what compiles with XLA and what should pay on a GPU.

Example:

>>> import numpy as np, tensorflow as tf
>>> x = np.random.default_rng(0).normal(size=(2, 3, 5, 5, 4)).astype("float32")
>>> k = np.random.default_rng(1).normal(size=(2, 3, 3, 4, 6)).astype("float32")
>>> a = episode_conv2d(x, k, method="grouped")
>>> b = episode_conv2d(x, k, method="patches")
>>> tuple(a.shape), bool(np.allclose(a, b, atol=1e-4))
((2, 3, 3, 3, 6), True)
>>> loop = np.stack([tf.nn.conv2d(x[i], k[i], 1, "VALID") for i in range(2)])
>>> bool(np.allclose(a, loop, atol=1e-4))
True
"""

from __future__ import annotations

import os

import tensorflow as tf

METHODS = ("grouped", "patches")
METHOD_ENV = "L2L_BATCHED_CONV"


def conv_method(jit_compile: bool) -> str:
    """"patches" under XLA on CPU, else "grouped"; `$L2L_BATCHED_CONV` overrides."""
    chosen = os.environ.get(METHOD_ENV)
    if chosen:
        if chosen not in METHODS:
            from l2l.errors import invalid_value

            raise invalid_value(METHOD_ENV, chosen, f"one of {METHODS}",
                                f"unset ${METHOD_ENV} or set it to 'grouped' or 'patches'")
        return chosen
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    return "patches" if jit_compile and not on_gpu else "grouped"


def episode_conv2d(x, kernel, method: str = "grouped"):
    """`x [B, n, H, W, C]` convolved with `kernel [B, kh, kw, C, K]` per episode (VALID)."""
    x, kernel = tf.convert_to_tensor(x), tf.convert_to_tensor(kernel)
    if method == "patches":
        return _patches_conv(x, kernel)
    shape = tf.shape(x)
    b, n, h, w, c = (shape[i] for i in range(5))
    kh, kw, k = kernel.shape[1], kernel.shape[2], kernel.shape[4]
    folded = tf.reshape(tf.transpose(x, (1, 2, 3, 0, 4)), (n, h, w, b * c))
    kernels = tf.reshape(tf.transpose(kernel, (1, 2, 3, 0, 4)), (kh, kw, c, b * k))
    y = grouped_conv2d(folded, kernels)
    ys = tf.shape(y)
    y = tf.reshape(y, (ys[0], ys[1], ys[2], b, k))
    return tf.transpose(y, (3, 0, 1, 2, 4))


@tf.custom_gradient
def grouped_conv2d(x, kernel):
    """VALID stride-1 grouped convolution `[n, H, W, G*C] * [kh, kw, C, G*K]`, with a
    gradient made of grouped forward convolutions (differentiable again)."""
    y = tf.nn.conv2d(x, kernel, 1, "VALID")

    def gradient(dy):
        kh, kw, c = kernel.shape[0], kernel.shape[1], kernel.shape[2]
        groups = _dim(x, 3) // c
        k = _dim(kernel, 3) // groups
        # input gradient: "full" convolution of dy with the flipped, transposed kernel
        flipped = tf.reshape(kernel, (kh, kw, c, groups, k))[::-1, ::-1]
        flipped = tf.reshape(tf.transpose(flipped, (0, 1, 4, 3, 2)), (kh, kw, k, groups * c))
        dx = grouped_conv2d(tf.pad(dy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]]),
                            flipped)
        # kernel gradient: channels as the batch, the images as the channels of each group
        n, h, w = _dim(x, 0), _dim(x, 1), _dim(x, 2)
        ho, wo = _dim(dy, 1), _dim(dy, 2)
        images = tf.reshape(tf.transpose(tf.reshape(x, (n, h, w, groups, c)), (4, 1, 2, 3, 0)),
                            (c, h, w, groups * n))
        taps = tf.reshape(tf.transpose(tf.reshape(dy, (n, ho, wo, groups, k)), (1, 2, 0, 3, 4)),
                          (ho, wo, n, groups * k))
        dkernel = tf.transpose(grouped_conv2d(images, taps), (1, 2, 0, 3))
        return dx, tf.reshape(dkernel, tf.shape(kernel))

    return y, gradient


def _dim(t, i):
    """Axis `i` of `t`: the static size when known, else a scalar tensor."""
    return t.shape[i] if t.shape[i] is not None else tf.shape(t)[i]


def _patches_conv(x, kernel):
    shape = tf.shape(x)
    b, n, h, w = shape[0], shape[1], shape[2], shape[3]
    kh, kw, c, k = kernel.shape[1], kernel.shape[2], kernel.shape[3], kernel.shape[4]
    ho, wo = h - kh + 1, w - kw + 1
    columns = tf.concat([x[:, :, i:i + ho, j:j + wo, :] for i in range(kh) for j in range(kw)],
                        axis=-1)
    columns = tf.reshape(columns, (b, -1, kh * kw * c))
    y = tf.matmul(columns, tf.reshape(kernel, (b, kh * kw * c, k)))
    return tf.reshape(y, (b, n, ho, wo, k))
