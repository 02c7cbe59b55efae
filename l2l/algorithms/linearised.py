"""The Bayesian update of a linearised network: ABML's `inner_update="gauss_newton"`.

A network `f(x; w)` linearised at `m`, `f(x; w) ~ f(x; m) + J (w - m)`, with a Gaussian prior
`N(theta, diag(P))` over `w` and Gaussian observation noise `noise^2` has a Gaussian posterior
in closed form. With `n` support points the solve is `n x n` (the kernel `J P J^T + noise^2 I`),
whatever the number of parameters:

    mean = theta + P J^T K^-1 (y - f(x; m) + J (theta - m)),   K = J P J^T + noise^2 I
    var  = 1 / (1 / P + diag(J^T J) / noise^2)

The mean is the exact posterior's; the variances are those of the diagonal Gaussian closest to
the exact posterior in `KL(q || posterior)`, so this `q` maximises the linearised model's ELBO
over ABML's family of diagonal Gaussians (the exact marginals, wider, would ignore that the
parameters share the explanation of each point, and draws would not follow the data).

One call is one Gauss-Newton step; called again at the new mean it iterates (an iterated
Kalman update). Unlike a gradient step on the ELBO, the update's size is set by the prior's
width and the noise, as a Bayesian update's is: the posterior mean moves as far as the data
justify, and the variances contract only where the data inform them.

Example:

>>> import keras, numpy as np
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
>>> from l2l.algorithms import ABML
>>> abml = ABML(net, inner_update="gauss_newton", init_std=1.0, init_noise=0.1)
>>> one = np.ones((1, 1, 1), "float32")
>>> inputs = {"support_x": one, "support_y": one, "query_x": one,
...           "support_mask": np.ones((1, 1), "float32")}
>>> tuple(abml(inputs).shape)  # the posterior-mean network's prediction at x = 1
(1, 1, 1)
"""

from __future__ import annotations

import math

import tensorflow as tf
from keras import ops


def linearised_posterior(call, prior_means, prior_log_stds, means, x, y, mask,
                         noise_log_std) -> tuple[list, list]:
    """`(means, log_stds)`, each a list of `[B, *shape]`: the posterior of the network
    linearised at `means` (`[B, *shape]` each).

    `call(params, x)` gives `[B, n, 1]` predictions for per-episode `params`; the prior is
    `N(prior_means, exp(2 prior_log_stds))` (each `[*shape]`); `x` `[B, n, ...]`, `y`
    `[B, n, 1]`, `mask` `[B, n]` (0 drops a padded support point); the noise std is
    `exp(noise_log_std)`.
    """
    batch, count = ops.shape(x)[0], ops.shape(x)[1]
    shapes = [tuple(m.shape[1:]) for m in means]  # static: the model's parameter shapes
    # per-example Jacobians: every support point is an episode of one example
    tiled = [tf.repeat(m, count, axis=0) for m in means]
    single = ops.reshape(x, (batch * count, 1, *ops.shape(x)[2:]))
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(tiled)
        f = call(tiled, single)
        total = ops.sum(f)
    jac = ops.concatenate([ops.reshape(g, (batch, count, -1))
                           for g in tape.gradient(total, tiled)], axis=-1)
    dtype = jac.dtype
    mask = ops.cast(mask, dtype)
    jac = jac * mask[..., None]
    f = ops.reshape(f, (batch, count))
    theta = ops.concatenate([ops.reshape(ops.convert_to_tensor(t), (-1,)) for t in prior_means], 0)
    prior_var = ops.concatenate([ops.reshape(ops.exp(2 * ops.convert_to_tensor(r)), (-1,))
                                 for r in prior_log_stds], 0)
    flat = ops.concatenate([ops.reshape(m, (batch, -1)) for m in means], axis=-1)
    y = ops.reshape(ops.cast(y, dtype), (batch, count))
    residual = (y - f + ops.einsum("bnp,bp->bn", jac, theta[None] - flat)) * mask
    jp = jac * prior_var
    noise_var = ops.exp(2 * ops.cast(noise_log_std, dtype))
    kernel = ops.einsum("bnp,bmp->bnm", jp, jac) + noise_var * ops.eye(count, dtype=dtype)
    alpha = ops.solve(kernel, residual[..., None])[..., 0]
    new_mean = theta[None] + ops.einsum("bnp,bn->bp", jp, alpha)
    log_std = -0.5 * ops.log(1 / prior_var[None] + ops.sum(ops.square(jac), axis=1) / noise_var)
    sizes = [math.prod(s) for s in shapes]
    split = [int(sum(sizes[:i])) for i in range(1, len(sizes))]
    return ([ops.reshape(v, (batch, *s)) for v, s in
             zip(ops.split(new_mean, split, axis=-1), shapes, strict=True)],
            [ops.reshape(v, (batch, *s)) for v, s in
             zip(ops.split(log_std, split, axis=-1), shapes, strict=True)])
