"""The Neural Statistician (Edwards & Storkey, ICLR 2017): a variational autoencoder of sets.

A set `D = {x_1..x_n}` (the images of one character, say) has a context `c`, and each example
a latent `z_i`:

    p(D) = integral p(c) prod_i integral p(z_i | c) p(x_i | z_i, c) dz_i dc,    p(c) = N(0, I).

`NeuralStatistician` holds the five networks of the paper:

- the shared per-example **encoder** `h(x)` (a conv net for images: `l2l.networks.conv_encoder`,
  the encoder every classification kind uses);
- the **statistic network** `q(c | D)`: a pre-pooling MLP on each `h(x_i)`, the mean over the
  set (masked: padding is ignored; `l2l.ops.class_means` pools several sets at once), and a
  post-pooling MLP to the mean and log standard deviation of a diagonal Gaussian;
- the **inference network** `q(z | x, c)` (an MLP of `[h(x), c]`), the **latent prior**
  `p(z | c)` (an MLP of `c`) and the **observation decoder** `p(x | z, c)`: an MLP of `[z, c]`
  to one Bernoulli logit per pixel.

The objective is the ELBO of each set, every KL in closed form (`l2l.ops.gaussian_kl_terms`),
one reparameterised draw of `c` per set and of `z` per example:

    ELBO(D) = sum_i ( E[log p(x_i | z_i, c)] - KL(q(z_i | x_i, c) || p(z_i | c)) )
              - KL(q(c | D) || p(c)).

The likelihood is Bernoulli: pixels are scaled by `input_scale` to [0, 1] and, with
`binarize=True` (default), rounded at 0.5, so the ELBO bounds the log-likelihood of binary
images, as in the paper's Omniglot experiments (it binarises too). Simplifications: one
latent layer `z` (the paper stacks three, each conditioned on the one above), MLP inference
and decoder networks instead of the paper's convolutional ones, no weighting of the context
KL, and no learned per-set variance in the decoder.

Few-shot classification (the paper's rule) encodes each class's support examples into
`q(c | class)`, each query on its own into `q(c | query)`, and picks the class with the
smallest `KL(q(c | query) || q(c | class))`: `l2l.predictors.StatisticianPredictor` does that
and is the `"statistician"` kind of `l2l.presets.classification_model`. Generation:
`sample(images)` draws `c ~ q(c | images)`, `z ~ p(z | c)` and returns the decoder's mean.

Example:

>>> import numpy as np, keras
>>> from l2l.statistician import NeuralStatistician
>>> stat = NeuralStatistician(encoder=keras.layers.Flatten(), context_dim=4, latent_dim=2,
...                           units=(8,), decoder_units=(8,))
>>> sets = np.random.default_rng(0).integers(0, 256, (3, 5, 6, 6, 1)).astype("uint8")
>>> mean, log_std = stat(sets)                        # q(c | D) of each of the 3 sets
>>> tuple(mean.shape), tuple(stat.sample(sets[:1], samples=4, seed=0).shape)
((3, 4), (1, 4, 6, 6, 1))
>>> elbo, sizes = stat.set_elbo(sets, seed=0)       # one set per row: [3, 1] each
>>> tuple(elbo.shape), sizes.numpy().ravel().tolist()
((3, 1), [5.0, 5.0, 5.0])
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from l2l.errors import invalid_value
from l2l.networks import conv_encoder
from l2l.ops import apply_per_example, class_means, gaussian_kl_terms
from l2l.serialization import deserialize_layers, register, serialize_layers


def bernoulli_log_likelihood(targets, logits):
    """`log Bernoulli(targets | sigmoid(logits))` elementwise: `t * l - softplus(l)`.

    For targets in {0, 1} this is the log-probability of the pixel; for grey targets in
    [0, 1] it is minus the binary cross-entropy, which is not a log-likelihood.

    >>> import numpy as np
    >>> from l2l.statistician import bernoulli_log_likelihood
    >>> [round(float(v), 4) for v in bernoulli_log_likelihood(np.array([1.0, 0.0]),
    ...                                                     np.array([0.0, 2.0]))]
    [-0.6931, -2.1269]
    """
    logits = ops.convert_to_tensor(logits)
    return ops.cast(targets, logits.dtype) * logits - ops.softplus(logits)


def _mlp(units, outputs: int | None, name: str) -> keras.Sequential:
    stack = [layers.Dense(u, activation="relu") for u in units]
    return keras.Sequential(stack + ([layers.Dense(outputs)] if outputs else []), name=name)


def _gaussian(params):
    """`[..., 2d]` network outputs as the `(mean, log_std)` of a diagonal Gaussian."""
    mean, log_std = ops.split(params, 2, axis=-1)
    return mean, log_std


def _draw(mean, log_std, seed):
    return mean + ops.exp(log_std) * keras.random.normal(ops.shape(mean), dtype=mean.dtype,
                                                         seed=seed)


def _check_units(name: str, units) -> tuple[int, ...]:
    units = tuple(units)
    if not units or any(isinstance(u, bool) or int(u) != u or u < 1 for u in units):
        raise invalid_value(name, units, "one or more positive layer sizes, e.g. (128,)")
    return tuple(int(u) for u in units)


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise invalid_value(name, value, "an integer >= 1")
    return int(value)


@register
class NeuralStatistician(keras.layers.Layer):
    """The networks and the ELBO of the Neural Statistician (see the module docstring).

    Calling it on sets `x [B, n, ...]` (with an optional `set_mask [B, n]`, 0: padding) returns
    `q(c | D)` of each set, `(mean [B, context_dim], log_std [B, context_dim])`.

    Args:
        encoder: the per-example encoder `h(x)`; by default `conv_encoder((32, 32, 32),
            units=64)` for images `[H, W, C]`. For vector examples pass a dense layer.
        context_dim: size of the context `c`.
        latent_dim: size of each example's latent `z` (one latent layer).
        units: hidden layer sizes of the pre-pooling, post-pooling, inference and prior MLPs.
        decoder_units: hidden layer sizes of the observation decoder.
        input_scale: multiplies raw examples into [0, 1] for the likelihood (1/255: uint8).
        binarize: round the scaled pixels at 0.5 before the Bernoulli likelihood.
        seed: seed of the draws made during training.
    """

    def __init__(self, encoder: keras.layers.Layer | None = None, context_dim: int = 64,
                 latent_dim: int = 16, units=(128,), decoder_units=(256,),
                 input_scale: float = 1 / 255, binarize: bool = True, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.context_dim = _check_size("context_dim", context_dim)
        self.latent_dim = _check_size("latent_dim", latent_dim)
        self.units = _check_units("units", units)
        self.decoder_units = _check_units("decoder_units", decoder_units)
        if not (isinstance(input_scale, int | float) and input_scale > 0):
            raise invalid_value("input_scale", input_scale, "a positive number (1/255 for "
                                "uint8 pixels, 1.0 for pixels already in [0, 1])")
        self.input_scale, self.binarize, self.seed = float(input_scale), bool(binarize), seed
        self.encoder = encoder if encoder is not None else conv_encoder(
            (32, 32, 32), units=64, input_scale=input_scale)
        self.pre_pool = _mlp(self.units, None, "pre_pool")
        self.post_pool = _mlp(self.units, 2 * self.context_dim, "post_pool")
        self.inference = _mlp(self.units, 2 * self.latent_dim, "inference")
        self.latent_prior = _mlp(self.units, 2 * self.latent_dim, "latent_prior")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, x_shape, set_mask_shape=None):
        """Build every network for sets `x_shape = [B, n, *example_shape]`."""
        self.example_shape = tuple(int(d) for d in x_shape[2:])
        self.pixels = math.prod(self.example_shape)
        if not self.encoder.built:
            self.encoder.build((None, *self.example_shape))
        features = self.encoder.compute_output_shape((None, *self.example_shape))
        if len(features) != 2:
            raise invalid_value("encoder", self.encoder, "a layer mapping each example to a "
                                f"vector, not to shape {tuple(features[1:])}",
                                "end it with keras.layers.Flatten() or a Dense layer")
        features = features[-1]
        self.pre_pool.build((None, None, features))
        self.post_pool.build((None, None, self.units[-1]))
        self.inference.build((None, None, features + self.context_dim))
        self.latent_prior.build((None, None, self.context_dim))
        # Every MLP reads sets of vectors [B, n, D] (the Dense layers act on the last axis).
        self.decoder = _mlp(self.decoder_units, self.pixels, "decoder")
        self.decoder.build((None, None, self.latent_dim + self.context_dim))
        self.built = True

    # ------------------------------------------------------------------ the statistic network

    def features(self, x, training=None):
        """`h(x)`: the encoder on every example of `x [B, n, ...]`, `[B, n, F]`."""
        return ops.cast(apply_per_example(self.encoder, x, training=training),
                        self.compute_dtype)

    def set_contexts(self, features, sets, mask):
        """`q(c | D_k)` of the sets marked by `sets [B, n, K]` (one-hot) among the examples
        with `mask [B, n]` = 1: `((mean, log_std) [B, K, context_dim], sizes [B, K])`."""
        pooled, sizes = class_means(self.pre_pool(features), sets, mask)
        return _gaussian(self.post_pool(pooled)), sizes

    def example_contexts(self, features):
        """`q(c | {x})` of every example as a set of its own, `(mean, log_std) [B, n, C]`."""
        return _gaussian(self.post_pool(self.pre_pool(features)))

    def call(self, x, set_mask=None, training=None):
        mask = ops.ones(ops.shape(x)[:2]) if set_mask is None else set_mask
        (mean, log_std), _ = self.set_contexts(self.features(x, training),
                                               ops.ones_like(mask)[..., None], mask)
        return mean[:, 0], log_std[:, 0]

    # ------------------------------------------------------------------ the generative model

    def targets(self, x):
        """The Bernoulli targets of raw examples: scaled to [0, 1], rounded if `binarize`."""
        x = ops.cast(x, self.compute_dtype) * self.input_scale
        return ops.cast(x > 0.5, x.dtype) if self.binarize else x

    def decode(self, z, c):
        """Pixel logits `[..., *example_shape]` of `p(x | z, c)`."""
        logits = self.decoder(ops.concatenate([z, c], axis=-1))
        return ops.reshape(logits, (*ops.shape(logits)[:-1], *self.example_shape))

    def example_terms(self, x, features, c, seed=None):
        """`(log p(x | z, c), KL(q(z | x, c) || p(z | c)))` per example `[B, n]`, with one
        draw `z ~ q(z | x, c)`; `c [B, n, C]` is each example's context draw."""
        z_mean, z_log_std = _gaussian(self.inference(ops.concatenate([features, c], -1)))
        prior_mean, prior_log_std = _gaussian(self.latent_prior(c))
        z = _draw(z_mean, z_log_std, seed if seed is not None else self.seed_generator)
        log_lik = bernoulli_log_likelihood(self.targets(x), self.decode(z, c))
        log_lik = ops.sum(ops.reshape(log_lik, (*ops.shape(log_lik)[:2], -1)), axis=-1)
        kl_z = ops.sum(gaussian_kl_terms(z_mean, z_log_std, prior_mean, prior_log_std), -1)
        return log_lik, kl_z

    def elbo_given_contexts(self, x, features, sets, mask, contexts, sizes, seed=None):
        """ELBO of each set `[B, K]` given its `q(c | D_k)` (`contexts`, from `set_contexts`
        or `example_contexts`); sets of size 0 count 0. One draw of `c` per set."""
        seed = seed if seed is not None else self.seed_generator
        mean, log_std = contexts
        sets = ops.cast(sets, features.dtype) * ops.cast(mask, features.dtype)[..., None]
        c = ops.einsum("bnk,bkc->bnc", sets, _draw(mean, log_std, seed))
        log_lik, kl_z = self.example_terms(x, features, c, seed)
        per_set = ops.einsum("bnk,bn->bk", sets, log_lik - kl_z)
        kl_c = ops.sum(gaussian_kl_terms(mean, log_std, 0.0, 0.0), axis=-1)
        return per_set - ops.where(sizes > 0, kl_c, ops.zeros_like(kl_c))

    def set_elbo(self, x, sets=None, set_mask=None, training=None, seed=None):
        """`(elbo [B, K], sizes [B, K])`: the ELBO (nats) of each set `k` of `x [B, n, ...]`
        marked by `sets [B, n, K]` (one-hot; default: all examples one set) and its size.
        `elbo / sizes` is the ELBO per example. `seed` makes the draws repeatable."""
        mask = (ops.ones(ops.shape(x)[:2]) if set_mask is None
                else ops.cast(set_mask, self.compute_dtype))
        sets = ops.ones_like(mask)[..., None] if sets is None else sets
        seed = keras.random.SeedGenerator(seed) if seed is not None else None
        features = self.features(x, training)
        contexts, sizes = self.set_contexts(features, sets, mask)
        return self.elbo_given_contexts(x, features, sets, mask, contexts, sizes, seed), sizes

    def sample(self, x, samples: int = 8, set_mask=None, seed: int | None = 0):
        """New examples of each set `x [B, n, ...]` (one set: `images[None]`): for each of
        `samples` draws `c ~ q(c | set)`, `z ~ p(z | c)`, the decoder's mean (pixel
        probabilities in [0, 1]), `[B, samples, *example_shape]`. The same `seed` gives the
        same samples."""
        generator = keras.random.SeedGenerator(seed)
        mean, log_std = self(x, set_mask)
        shape = (ops.shape(mean)[0], int(samples), self.context_dim)
        c = _draw(ops.broadcast_to(mean[:, None], shape),
                  ops.broadcast_to(log_std[:, None], shape), generator)
        z = _draw(*_gaussian(self.latent_prior(c)), generator)
        return ops.sigmoid(self.decode(z, c))

    def get_config(self):
        return {**super().get_config(), "context_dim": self.context_dim,
                "latent_dim": self.latent_dim, "units": self.units,
                "decoder_units": self.decoder_units, "input_scale": self.input_scale,
                "binarize": self.binarize, "seed": self.seed,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
