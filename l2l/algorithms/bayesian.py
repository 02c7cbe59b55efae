"""Probabilistic MAML: amortised Bayesian meta-learning (ABML; Ravi & Beatson, 2019).

Choice. Of the two probabilistic MAMLs, this is ABML, simplified, rather than PLATIPUS
(Finn, Xu & Levine, 2018). ABML's per-task posterior is a diagonal Gaussian over *all* the
adapted parameters, obtained by a few gradient steps on the task's ELBO from a meta-learned
prior, so it is exactly `GradientMetaLearner`'s batched inner loop run on (mean, log-std)
pairs and needs no second network. PLATIPUS samples only the initialisation (its adapted
parameters are then a deterministic gradient step) and trains an extra inference network on
the query set, which the test-time procedure cannot use.

The model. A meta-learned prior `N(theta, diag(exp(2 rho)))` over the wrapped network's
parameters (`theta` is the network's own weights, `rho` = `prior_log_stds`), and a Gaussian
observation noise of learned standard deviation `exp(log_noise)` (one scalar). For an episode,
the posterior `q = N(m, diag(exp(2 r)))` starts at the prior and takes `inner_steps` gradient
steps of `inner_learning_rate` on the support set's negative ELBO per example,

    -(1/n) sum_i E_q[log N(y_i | f(x_i; w), noise^2)] + KL(q || prior) / n,

the expectation estimated with one reparameterised draw `w = m + exp(r) * eps` per step. The
meta-objective is the same negative ELBO on the query set under the adapted posterior,
differentiated through the inner loop (second order). Not done from the paper: its hyperprior
on the prior, several draws per step, and its first-order variant.

Inner steps. With plain steps (`inner_update="sgd"`, the paper's) a narrow prior, which the
draws need to stay close to good functions, makes adapting expensive: the meta-objective's KL
charges `sum (m - theta)^2 / (2 prior_std^2)` for every move of the means (about 1,250 per unit
squared at the initial std 0.02), and several steps diverge once `rate / prior_std^2` passes 2
per example. On sinusoids the meta-learner answered by hardly adapting, even given learned
rates (`learn_inner_rates`; see the probabilistic_maml results). `inner_update="natural"`
takes natural-gradient steps instead (the means' step scaled by the posterior variance, on
the whole ELBO), which makes a step's size independent of the prior's width: moves cost
`rate^2 prior_std^2 grad^2 / 2` in the KL, the data's pull grows with the support set, and
the posterior contracts where the data are informative. Its diagonal preconditioner still
overshoots once the prior is wide (every parameter moves as if it alone explained a point);
`inner_update="gauss_newton"` replaces the steps by the closed-form update of the network
linearised at the means (`l2l.algorithms.linearised`: an `n x n` solve per episode), the
ELBO's optimum for a linear model, with no step size to choose.

Prediction. `model(inputs)` is the posterior-mean network's answer (a point prediction,
scored like MAML's); `sample_functions(inputs, samples, seed)` draws `samples` networks from
each episode's posterior, and `noise_std()` is the noise model, so the predictive distribution
is the mixture of `N(f_s(x), noise^2)`. Draws differ from one another and repeat for a seed.

Example:

>>> import keras
>>> from l2l.algorithms import ABML
>>> from l2l.tasks import SinusoidTask
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="relu"),
...                         keras.layers.Dense(1)])
>>> abml = ABML(net, inner_steps=1, init_std=0.05)
>>> abml.compile(keras.optimizers.Adam(1e-3))
>>> history = abml.fit(SinusoidTask(shots=5).dataset(4, seed=0), steps_per_epoch=2, verbose=0)
>>> episodes = SinusoidTask(shots=2, queries=7).fixed_episodes(3, seed=1)
>>> abml.sample_functions(episodes.inputs(), samples=4, seed=0).shape
(4, 3, 7, 1)
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from l2l.algorithms.base import GradientMetaLearner
from l2l.algorithms.functional import stack_params
from l2l.algorithms.linearised import linearised_posterior
from l2l.episodes import QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y
from l2l.errors import invalid_value
from l2l.keras_compat import update_loss_metric
from l2l.ops import gaussian_kl_terms, masked_mean
from l2l.serialization import register
from l2l.validation import check_positive_number

LOG_2PI = math.log(2 * math.pi)
INNER_UPDATES = ("sgd", "natural", "gauss_newton")
"""How ABML's inner loop steps on the posterior (`ABML(inner_update=...)`)."""


def gaussian_log_likelihood(y, mean, log_std):
    """`log N(y | mean, exp(log_std)^2)` elementwise."""
    return -0.5 * (LOG_2PI + 2 * log_std + ops.square((y - mean) / ops.exp(log_std)))


def gaussian_kl(mean, log_std, prior_mean, prior_log_std):
    """`KL(N(mean, s^2) || N(prior_mean, p^2))` per episode, summed over parameters.

    `mean`, `log_std` `[B, *shape]`; the prior's `[*shape]`. Returns `[B]`.

    >>> import numpy as np
    >>> float(gaussian_kl(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(2), np.zeros(2))[0])
    0.0
    """
    terms = gaussian_kl_terms(mean, log_std, prior_mean, prior_log_std)
    return ops.sum(ops.reshape(terms, (ops.shape(terms)[0], -1)), axis=1)


@register
class ABML(GradientMetaLearner):
    """Amortised Bayesian MAML (see the module docstring).

    Args:
        model, loss, inner_steps, inner_learning_rate, test_steps: as `GradientMetaLearner`
            (`loss` must be "mse": the likelihood is Gaussian).
        init_std: initial prior standard deviation of every parameter.
        init_noise: initial observation noise standard deviation.
        kl_weight: weight of the KL term in the meta-objective, per query example.
        seed: seed of the draws made during training.
        learn_inner_rates: meta-learn one inner step size per parameter, for the means and
            for the log-stds (as `MetaSGD` does for MAML's parameters), initialised to
            `inner_learning_rate`. The inner gradient of the Gaussian likelihood is scaled by
            `1 / noise^2`, so one fixed rate ties how far the posterior moves to the noise
            level; learned rates undo that coupling.
        inner_update: "sgd": plain gradient steps on the support set's negative ELBO per
            example (Bayes by Backprop, as in the paper). "natural": natural-gradient steps on
            the support set's whole negative ELBO, the Fisher of `q` as preconditioner: the
            means move by `rate * exp(2 r) * grad` and the log-stds by `rate / 2 * grad`.
            A step is then invariant to the prior's scale (the KL's pull towards the prior
            is `rate * (m - theta)` whatever the prior's width, so narrow priors do not make
            several steps diverge) and the data's pull grows with the number of support
            points and the prior variance, as a Bayesian update's does; `inner_learning_rate`
            is then a fraction of a Newton step (about 0.1 to 1). "gauss_newton": the
            closed-form posterior of the network linearised at the current means
            (`l2l.algorithms.linearised`), one step per inner step; no learning rate (one
            output only).
    """

    def __init__(self, model, loss="mse", inner_steps: int = 1,
                 inner_learning_rate: float = 0.01, test_steps: int | None = None,
                 init_std: float = 0.02, init_noise: float = 0.5, kl_weight: float = 1.0,
                 seed: int | None = None, learn_inner_rates: bool = False,
                 inner_update: str = "sgd", **kwargs):
        check_positive_number("init_std", init_std)
        check_positive_number("init_noise", init_noise)
        if not (isinstance(kl_weight, int | float) and kl_weight >= 0):
            raise invalid_value("kl_weight", kl_weight, "a number >= 0")
        if inner_update not in INNER_UPDATES:
            raise invalid_value("inner_update", inner_update, f"one of {INNER_UPDATES}")
        if inner_update == "gauss_newton" and learn_inner_rates:
            raise invalid_value("learn_inner_rates", learn_inner_rates, "False with "
                                'inner_update="gauss_newton" (its steps have no rate)')
        if getattr(keras.losses.get(loss), "__name__", None) != "mean_squared_error":
            raise invalid_value("loss", loss, '"mse" (ABML has a Gaussian likelihood)')
        kwargs.pop("first_order", None)
        kwargs.pop("stop_tolerance", None)
        kwargs.pop("safe_steps", None)
        self.init_std, self.init_noise = float(init_std), float(init_noise)
        self.kl_weight, self.seed = float(kl_weight), seed
        self.learn_inner_rates, self.inner_update = bool(learn_inner_rates), inner_update
        self.seed_generator = keras.random.SeedGenerator(seed)
        super().__init__(model, loss=loss, inner_steps=inner_steps,
                         inner_learning_rate=inner_learning_rate, test_steps=test_steps,
                         **kwargs)

    def create_variables(self) -> None:
        self.prior_log_stds = [
            self.add_weight(shape=v.shape, name=f"prior_log_std_{i}", dtype=v.dtype,
                            initializer=keras.initializers.Constant(math.log(self.init_std)))
            for i, v in enumerate(self.model.trainable_variables)]
        self.log_noise = self.add_weight(
            shape=(), name="log_noise", dtype=self.model.trainable_variables[0].dtype,
            initializer=keras.initializers.Constant(math.log(self.init_noise)))
        self.mean_rates, self.log_std_rates = [], []
        if self.learn_inner_rates:
            self.mean_rates, self.log_std_rates = (
                [self.add_weight(shape=v.shape, name=f"{kind}_rate_{i}", dtype=v.dtype,
                                 initializer=keras.initializers.Constant(
                                     self.inner_learning_rate))
                 for i, v in enumerate(self.model.trainable_variables)]
                for kind in ("mean", "log_std"))

    def _rates(self) -> tuple[list, list]:
        """Inner step sizes `(for the means, for the log-stds)`, one per parameter tensor."""
        if not self.learn_inner_rates:
            count = len(self.prior_log_stds)
            return [self.inner_learning_rate] * count, [self.inner_learning_rate] * count
        return ([ops.convert_to_tensor(r) for r in self.mean_rates],
                [ops.convert_to_tensor(r) for r in self.log_std_rates])

    def noise_std(self) -> float:
        """The learned observation noise standard deviation."""
        return float(np.exp(ops.convert_to_numpy(self.log_noise)))

    def _draw(self, means, log_stds, seed):
        return [m + ops.exp(r) * keras.random.normal(ops.shape(m), dtype=m.dtype, seed=seed)
                for m, r in zip(means, log_stds, strict=True)]

    def negative_elbo(self, means, log_stds, x, y, mask, seed, kl_weight: float = 1.0):
        """`[B]`: one-draw negative ELBO per example of `(x, y)` under `q = (means, log_stds)`,
        the KL term weighted by `kl_weight`."""
        weights = self._draw(means, log_stds, seed)
        predictions = self.call_with_params(weights, x, training=False)
        y = ops.reshape(ops.cast(y, predictions.dtype), ops.shape(predictions))
        log_lik = gaussian_log_likelihood(y, predictions, ops.cast(self.log_noise,
                                                                   predictions.dtype))
        log_lik = ops.mean(ops.reshape(log_lik, ops.shape(log_lik)[:2] + (-1,)), axis=-1)
        count = ops.maximum(ops.sum(ops.cast(mask, log_lik.dtype), axis=1), 1.0)
        kl = sum(gaussian_kl(m, r, t, p) for m, r, t, p in
                 zip(means, log_stds, self.model.trainable_variables, self.prior_log_stds,
                     strict=True))
        return -masked_mean(log_lik, mask) + kl_weight * kl / count

    def adapt_posterior(self, inputs, steps: int | None = None, training: bool = False,
                        seed: int | None = None) -> tuple[list, list]:
        """`(means, log_stds)` of every episode's posterior after the inner loop.

        Draws use `seed` (an int: repeatable) or the training seed generator (None).
        """
        inputs = self.checked_inputs(inputs)
        steps = (self.inner_steps if training else self.test_steps) if steps is None else steps
        batch = ops.shape(inputs[SUPPORT_X])[0]
        means = stack_params(self.model.trainable_variables, batch)
        log_stds = stack_params(self.prior_log_stds, batch)
        mask = ops.cast(inputs[SUPPORT_MASK], means[0].dtype)
        natural = self.inner_update == "natural"
        count = ops.maximum(ops.sum(mask, axis=1), 1.0) if natural else 1.0
        if self.inner_update == "gauss_newton":
            for _ in range(steps):
                means, log_stds = linearised_posterior(
                    self.call_with_params, self.model.trainable_variables, self.prior_log_stds,
                    means, inputs[SUPPORT_X], inputs[SUPPORT_Y], mask, self.log_noise)
            return means, log_stds
        mean_rates, log_std_rates = self._rates()
        for step in range(steps):
            draw_seed = self.seed_generator if seed is None else seed + 7919 * (step + 1)
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(means + log_stds)
                objective = self.negative_elbo(means, log_stds, inputs[SUPPORT_X],
                                               inputs[SUPPORT_Y], mask, draw_seed)
                total = ops.sum(objective * count)  # natural: the whole ELBO, not per example
            grads = tape.gradient(total, means + log_stds)
            # natural gradient: the Fisher of N(m, exp(2 r)) is 1 / exp(2 r) in m, 2 in r
            means = [m - a * (ops.exp(2 * r) if natural else 1.0) * g for m, r, a, g in
                     zip(means, log_stds, mean_rates, grads[:len(means)], strict=True)]
            log_stds = [r - a * (0.5 if natural else 1.0) * g for r, a, g in
                        zip(log_stds, log_std_rates, grads[len(means):], strict=True)]
        return means, log_stds

    def call(self, inputs, training=None):
        means, _ = self.adapt_posterior(inputs, training=bool(training))
        return self.call_with_params(means, inputs[QUERY_X], training=training)

    def sample_functions(self, inputs, samples: int = 20, seed: int = 0) -> np.ndarray:
        """`[samples, B, Q, ...]` query predictions of networks drawn from each episode's
        posterior (no observation noise), the same for the same `seed`."""
        inputs = {k: ops.convert_to_tensor(v) for k, v in inputs.items()}
        means, log_stds = self.adapt_posterior(inputs, seed=seed)
        return np.stack([ops.convert_to_numpy(self.call_with_params(
            self._draw(means, log_stds, seed + 104729 * (s + 1)), inputs[QUERY_X]))
            for s in range(samples)])

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        # Under a tf.distribute strategy the optimizer sums the replicas' gradients: scale
        # each replica's loss by its share, so the update is the global batch's mean, as on
        # one device (Keras's compute_loss does the same for the built-in train_step).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            means, log_stds = self.adapt_posterior(x, training=True)
            query_mask = ops.ones(ops.shape(x[QUERY_X])[:2], dtype=means[0].dtype)
            loss = ops.mean(self.negative_elbo(means, log_stds, x[QUERY_X], y, query_mask,
                                               self.seed_generator, self.kl_weight))
            scaled = loss / replicas
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        update_loss_metric(self, loss)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        config = super().get_config()
        for key in ("first_order", "stop_tolerance", "safe_steps"):
            config.pop(key)
        return {**config, "init_std": self.init_std, "init_noise": self.init_noise,
                "kl_weight": self.kl_weight, "seed": self.seed,
                "learn_inner_rates": self.learn_inner_rates, "inner_update": self.inner_update}


def mixture_log_likelihood(samples, noise_std: float, y) -> np.ndarray:
    """Per-episode mean log density `[B]` of `y [B, Q, ...]` under the equal mixture of
    `N(samples[s], noise_std^2)` (`samples [S, B, Q, ...]`); one sample is a plain Gaussian.

    >>> import numpy as np
    >>> round(float(mixture_log_likelihood(np.zeros((1, 1, 1)), 1.0, np.zeros((1, 1)))[0]), 4)
    -0.9189
    """
    samples = np.asarray(samples, "float64")
    y = np.asarray(y, "float64").reshape(samples.shape[1:])
    log_density = (-0.5 * (LOG_2PI + 2 * np.log(noise_std))
                   - 0.5 * ((y[None] - samples) / noise_std) ** 2)
    peak = log_density.max(axis=0)
    mixture = peak + np.log(np.mean(np.exp(log_density - peak), axis=0))
    return mixture.reshape(mixture.shape[0], -1).mean(axis=1)


def mixture_coverage(samples, noise_std: float, y, level: float = 0.95,
                     draws: int = 50, seed: int = 0) -> np.ndarray:
    """Per-episode fraction `[B]` of `y` inside the central `level` interval of the mixture,
    its quantiles estimated from `draws` noisy draws per function sample."""
    samples = np.asarray(samples, "float64")
    rng = np.random.default_rng(seed)
    noisy = samples[None] + noise_std * rng.standard_normal((draws,) + samples.shape)
    noisy = noisy.reshape((-1,) + samples.shape[1:])
    low, high = np.quantile(noisy, [(1 - level) / 2, (1 + level) / 2], axis=0)
    y = np.asarray(y, "float64").reshape(low.shape)
    inside = (y >= low) & (y <= high)
    return inside.reshape(inside.shape[0], -1).mean(axis=1)
