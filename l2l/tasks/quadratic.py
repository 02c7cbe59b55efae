"""Quadratic regression: every task is a random quadratic function of `dims` inputs.

After Hochreiter, Younger & Conwell (2001), "Learning to learn using gradient descent"
(ICANN, LNCS 2130), whose LSTM meta-learner learned quadratic functions from a sequence of
examples. A task is

    f(x) = sum over all monomials m of degree <= 2 of a_m * m(x)
         = a_0 + sum_i a_i x_i + sum_{i <= j} a_ij x_i x_j,

with every coefficient uniform in [-1, 1] and inputs uniform in [-1, 1]^dims (two inputs give
the six terms 1, x1, x2, x1^2, x1 x2, x2^2). Only the paper's abstract was available to us, so
the protocol above is the one this library uses, not a verified copy of the paper's: the
number of examples per sequence, any scaling of the targets and the paper's error figures
are not reproduced here.

The support points form a sequence in the order they were drawn (i.i.d.), so a sequence
learner reads them one by one as in the paper; with ragged shots the padding comes last. The
query points are separate, noise-free, and scored by MSE. Predicting the task distribution's
mean (zero, for symmetric ranges) scores `mean_predictor_mse()`, about 0.726 for two inputs;
`dims + 1 + dims (dims + 1) / 2` noise-free support points determine a task exactly (least
squares on `QuadraticTask.monomials`).

Example:

>>> from l2l.tasks import QuadraticTask
>>> task = QuadraticTask(dims=2, shots=10, queries=5)
>>> ep = task.episodes(batch_size=4, seed=0)
>>> ep.support_x.shape, ep.support_y.shape, ep.query_y.shape
((4, 10, 2), (4, 10, 1), (4, 5, 1))
>>> task.num_coefficients, round(task.mean_predictor_mse(), 3)
(6, 0.726)
"""

from __future__ import annotations

import warnings

import numpy as np

from l2l.episodes import Episode
from l2l.errors import InvalidValueError
from l2l.tasks.base import (
    TaskDistribution,
    check_noise,
    check_queries,
    check_range,
    check_shots,
)


class QuadraticTask(TaskDistribution):
    """A task distribution: episodes of regression on random quadratic functions of `dims`
    inputs, each episode a new function drawn from it.

    Args:
        dims: number of inputs `d`; a task has `1 + d + d (d + 1) / 2` coefficients.
        shots: support points per episode, or `(min, max)` for ragged, masked support sets
            (padding last).
        queries: query points per episode.
        coefficients: `(low, high)` of the uniform distribution of every coefficient.
        x_range: `(low, high)` of the uniform distribution of every input.
        noise: standard deviation of Gaussian noise added to support targets only.

    Episodes hold float32 `x [B, n, dims]` and `y [B, n, 1]`.
    """

    def __init__(self, dims: int = 2, shots: int | tuple[int, int] = 10, queries: int = 10,
                 coefficients: tuple[float, float] = (-1.0, 1.0),
                 x_range: tuple[float, float] = (-1.0, 1.0), noise: float = 0.0):
        if int(dims) != dims or dims < 1:
            raise InvalidValueError(f"dims must be an integer >= 1, got {dims!r}.")
        self.dims = int(dims)
        self.min_shots, self.max_shots = check_shots(shots)
        self.queries = check_queries(queries)
        self.coefficients = check_range("coefficients", coefficients)
        self.x_range = check_range("x_range", x_range)
        self.noise = check_noise(noise)
        rows, cols = np.triu_indices(self.dims)
        self._pairs = (rows, cols)

    @property
    def num_coefficients(self) -> int:
        """Coefficients of one quadratic: constant, linear and pairwise terms."""
        return 1 + self.dims + len(self._pairs[0])

    def monomials(self, x: np.ndarray) -> np.ndarray:
        """`[..., num_coefficients]`: `1, x_1 .. x_d, x_i x_j (i <= j)` of `x [..., dims]`, the
        order of the coefficients from `functions`."""
        x = np.asarray(x)
        if x.shape[-1:] != (self.dims,):
            raise InvalidValueError(
                f"x must have {self.dims} inputs on its last axis, got {x.shape}.")
        rows, cols = self._pairs
        return np.concatenate([np.ones_like(x[..., :1]), x, x[..., rows] * x[..., cols]], axis=-1)

    def task_parameters(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """`[B, num_coefficients]` coefficients of `batch_size` tasks (see `monomials`)."""
        return rng.uniform(*self.coefficients, size=(batch_size, self.num_coefficients))

    def functions(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Deprecated name of `task_parameters` (it returns parameters, not functions)."""
        warnings.warn(f"{type(self).__name__}.functions is deprecated: call task_parameters.",
                      DeprecationWarning, stacklevel=2)
        return self.task_parameters(batch_size, rng)

    def __call__(self, coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
        """`f(x)` for `coefficients [B, M]` and `x [B, n, dims]`: `[B, n, 1]`."""
        return np.einsum("bnm,bm->bn", self.monomials(x), coefficients)[..., None]

    def mean_predictor_mse(self) -> float:
        """Expected query MSE of predicting the task distribution's mean function,
        `Var(a) * sum_m E[m(x)^2]` (coefficients independent), the baseline to beat."""
        (a, b), (p, q) = self.coefficients, self.x_range
        var_a = (b - a) ** 2 / 12.0
        moment = (lambda k: (q ** (k + 1) - p ** (k + 1)) / ((k + 1) * (q - p))) if q > p else (
            lambda k: p**k)
        d, pairs = self.dims, len(self._pairs[0])
        squares = d * moment(4) + (pairs - d) * moment(2) ** 2  # x_i^2 terms, x_i x_j (i < j)
        return float(var_a * (1.0 + d * moment(2) + squares))

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        return self.sample_with_info(batch_size, rng)[0]

    def sample_with_info(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[Episode, dict[str, np.ndarray]]:
        """Episodes plus `info["coefficients"] [B, num_coefficients]`, each task's function
        (the same as `functions(batch_size, rng)` on a fresh copy of `rng`)."""
        params = self.task_parameters(batch_size, rng)
        s = self.max_shots
        x = rng.uniform(*self.x_range, size=(batch_size, s + self.queries, self.dims))
        y = self(params, x)
        shots = rng.integers(self.min_shots, s + 1, size=batch_size)
        mask = (np.arange(s) < shots[:, None]).astype("float32")
        support_y = y[:, :s] + self.noise * rng.standard_normal(y[:, :s].shape)
        episode = Episode(
            support_x=(x[:, :s] * mask[..., None]).astype("float32"),
            support_y=(support_y * mask[..., None]).astype("float32"),
            query_x=x[:, s:].astype("float32"),
            query_y=y[:, s:].astype("float32"),
            support_mask=mask,
        )
        return episode, {"coefficients": params}
