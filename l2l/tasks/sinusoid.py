"""Sinusoid regression, the MAML protocol: every task is `y = A sin(x - phase)`.

Amplitude `A` is uniform in [0.1, 5.0], phase uniform in [0, pi], and inputs uniform in
[-5, 5] (Finn et al., 2017). A K-shot task shows K `(x, y)` pairs; the model must predict `y`
at the query points. Predicting the task distribution's mean (zero) gives an MSE of about
`E[A^2] / 2 = 4.2`; MAML reports about 1.13 (5 shots) and 0.77 (10 shots) on this protocol
(`benchmarks/published.py` holds the figures the benchmarks quote).

Example:

>>> from l2l.tasks import SinusoidTask
>>> ep = SinusoidTask(shots=5, queries=10).episodes(batch_size=4, seed=0)
>>> ep.support_x.shape, ep.support_y.shape, ep.query_y.shape
((4, 5, 1), (4, 5, 1), (4, 10, 1))
"""

from __future__ import annotations

import warnings

import numpy as np

from l2l.episodes import Episode
from l2l.tasks.base import (
    TaskDistribution,
    check_noise,
    check_queries,
    check_range,
    check_shots,
)


class SinusoidTask(TaskDistribution):
    """A task distribution: episodes of `y = amplitude * sin(x - phase)` regression.

    Each episode is a new task (a new amplitude and phase) drawn from this distribution.

    Args:
        shots: support points per episode, or `(min, max)` for ragged, masked support sets.
        queries: query points per episode.
        amplitude: `(low, high)` of the uniform amplitude distribution.
        phase: `(low, high)` of the uniform phase distribution.
        x_range: `(low, high)` of the uniform input distribution.
        noise: standard deviation of Gaussian noise added to support targets only.

    Episodes hold float32 `[B, n, 1]` arrays; `query_y` is noise-free.
    """

    def __init__(self, shots: int | tuple[int, int] = 5, queries: int = 10,
                 amplitude: tuple[float, float] = (0.1, 5.0),
                 phase: tuple[float, float] = (0.0, np.pi),
                 x_range: tuple[float, float] = (-5.0, 5.0), noise: float = 0.0):
        self.min_shots, self.max_shots = check_shots(shots)
        self.queries = check_queries(queries)
        self.amplitude = check_range("amplitude", amplitude)
        self.phase = check_range("phase", phase)
        self.x_range = check_range("x_range", x_range)
        self.noise = check_noise(noise)

    def task_parameters(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """`[B, 2]` (amplitude, phase) pairs of `batch_size` tasks."""
        return np.stack([rng.uniform(*self.amplitude, batch_size),
                         rng.uniform(*self.phase, batch_size)], axis=1)

    def functions(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Deprecated name of `task_parameters` (it returns parameters, not functions)."""
        warnings.warn(f"{type(self).__name__}.functions is deprecated: call task_parameters.",
                      DeprecationWarning, stacklevel=2)
        return self.task_parameters(batch_size, rng)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        params = self.task_parameters(batch_size, rng)
        x = rng.uniform(*self.x_range, size=(batch_size, self.max_shots + self.queries, 1))
        y = params[:, None, :1] * np.sin(x - params[:, None, 1:])
        shots = rng.integers(self.min_shots, self.max_shots + 1, size=batch_size)
        mask = (np.arange(self.max_shots) < shots[:, None]).astype("float32")
        s = self.max_shots
        support_y = y[:, :s] + self.noise * rng.standard_normal(y[:, :s].shape)
        return Episode(
            support_x=(x[:, :s] * mask[..., None]).astype("float32"),
            support_y=(support_y * mask[..., None]).astype("float32"),
            query_x=x[:, s:].astype("float32"),
            query_y=y[:, s:].astype("float32"),
            support_mask=mask,
        )
