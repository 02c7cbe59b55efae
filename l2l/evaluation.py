"""Scoring on fixed evaluation episodes: per-episode scores, their mean and a 95% CI.

Every method is scored by this module on the same `Episode` set (see
`TaskDistribution.fixed_episodes`), so figures are comparable. The confidence interval of a
mean is Student's t interval, `t(0.975, n - 1) * std / sqrt(n)`: for the 600-10,000 episodes
of a few-shot evaluation it is the literature's `1.96 * std / sqrt(n)` (t(0.975, 999) =
1.962), and for the 3-5 repeats of a timing or a transfer run it is honestly wider (t(0.975, 4)
= 2.776, not 1.96). A median gets the distribution-free order-statistic interval
(`median_ci95`), which needs at least 6 values.

Example:

>>> import numpy as np
>>> from l2l.evaluation import mean_ci95, per_episode_accuracy
>>> scores = per_episode_accuracy(np.array([[2.0, -1.0], [0.5, 0.3]]),
...                               np.array([[1.0, 0.0], [1.0, 0.0]]))
>>> scores.tolist()
[1.0, 0.5]
>>> mean, ci = mean_ci95(scores)
>>> round(mean, 2)
0.75
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics

import numpy as np

from l2l.episodes import Episode
from l2l.errors import InvalidTypeError, InvalidValueError, invalid_value


@dataclasses.dataclass(frozen=True)
class Score:
    """A metric's mean over episodes with its 95% confidence half-width."""

    metric: str
    mean: float
    ci95: float
    episodes: int

    def __str__(self) -> str:
        if self.metric == "accuracy":
            return (f"accuracy {100 * self.mean:.2f}% ± {100 * self.ci95:.2f}% "
                    f"(95% CI, {self.episodes} episodes)")
        return f"{self.metric} {self.mean:.4f} ± {self.ci95:.4f} (95% CI, {self.episodes} episodes)"


def _t_two_sided_cdf(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer `df` (Abramowitz & Stegun 26.7.3-4, exact)."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 0:  # sin(theta) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        term = total = 1.0
        for k in range(2, df, 2):
            term *= cos2 * (k - 1) / k
            total += term
        return sin * total
    total, term = 0.0, math.cos(theta)  # odd: 2/pi (theta + sin (cos + 2/3 cos^3 + ...))
    if df > 1:
        total = term
        for k in range(3, df - 1, 2):
            term *= cos2 * (k - 1) / k
            total += term
    return 2.0 / math.pi * (theta + sin * total)


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The `p` quantile (0.5 < p < 1) of Student's t with integer `df >= 1` degrees of freedom.

    Exact to about 1e-9 (bisection on the exact distribution function), without scipy; above
    2,000 degrees of freedom the Cornish-Fisher expansion, whose error there is below 1e-10.

    >>> round(t_quantile(0.975, 4), 3), round(t_quantile(0.975, 1), 3)
    (2.776, 12.706)
    """
    if not 0.5 < p < 1 or int(df) != df or df < 1:
        raise InvalidValueError(f"t_quantile needs 0.5 < p < 1 and an integer df >= 1, got p={p}, "
                         f"df={df}.")
    df = int(df)
    z = statistics.NormalDist().inv_cdf(p)
    if df > 2000:
        return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
                + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))
    target, low, high = 2 * p - 1, z, max(2 * z, 1.0)
    while _t_two_sided_cdf(high, df) < target:
        high *= 2
    for _ in range(100):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if _t_two_sided_cdf(mid, df) < target else (low, mid)
        if high - low < 1e-12 * high:
            break
    return 0.5 * (low + high)


def mean_ci95(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95% confidence half-width (Student's t, n - 1 degrees of freedom) of `values`.

    One value has no spread to estimate: its half-width is 0 (callers that report one value
    should report no interval).

    >>> mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0, 5.0])   # t(0.975, 4) * std / sqrt(5)
    >>> mean, round(half, 4)
    (3.0, 1.9632)
    """
    values = np.asarray(values, dtype="float64")
    if values.size == 0:
        raise InvalidValueError("No scores to summarise: evaluate on at least one episode.")
    if values.size == 1:
        return float(values[0]), 0.0
    spread = values.std(ddof=1)
    return float(values.mean()), float(t_quantile(0.975, values.size - 1) * spread
                                       / np.sqrt(values.size))


def median_ci95(values) -> tuple[float, float | None, float | None]:
    """`(median, low, high)`: the median and its distribution-free 95% interval.

    The interval runs between the order statistics `x(j)` and `x(n + 1 - j)`, with `j` the
    largest rank for which the interval still covers the median with probability >= 95%
    (binomial(n, 1/2)); below 6 values no such interval exists and `low`, `high` are None.

    >>> median_ci95([3.0, 1.0, 2.0])
    (2.0, None, None)
    >>> median_ci95([5, 1, 4, 2, 3, 6, 7, 9, 8])   # ranks 2 and 8: 96.1% coverage
    (5.0, 2.0, 8.0)
    """
    values = np.sort(np.asarray(values, dtype="float64"))
    n = values.size
    if n == 0:
        raise InvalidValueError("No values to summarise: a median needs at least one.")
    median = float(np.median(values))
    j, covered = None, 1.0 - 2 * 0.5**n  # coverage of (x(1), x(n))
    for rank in range(1, n // 2 + 1):
        if covered < 0.95:
            break
        j = rank
        covered -= 2 * math.comb(n, rank) * 0.5**n  # coverage of (x(rank + 1), x(n - rank))
    if j is None:
        return median, None, None
    return median, float(values[j - 1]), float(values[n - j])


def per_episode_accuracy(logits: np.ndarray, query_y: np.ndarray) -> np.ndarray:
    """Accuracy of each episode, for binary or multi-class predictions.

    - Binary: logits `[B, Q]` (> 0 means 1) against `query_y` `[B, Q]` of 0/1 (a trailing
      axis of size 1 on the logits is allowed).
    - Multi-class (`l2l.tasks.FewShotClassification`): logits `[B, Q, N]` against integer
      class indices `query_y [B, Q]` in `0..N-1`; the prediction is the argmax.

    >>> per_episode_accuracy(np.array([[[2.0, 0.1, 0.0], [0.0, 0.0, 1.0]]]),
    ...                      np.array([[0, 1]])).tolist()
    [0.5]
    """
    logits, query_y = np.asarray(logits), np.asarray(query_y)
    if logits.shape == query_y.shape + (1,):
        logits = logits[..., 0]
    if logits.shape == query_y.shape:
        return ((logits > 0) == (query_y > 0.5)).reshape(len(logits), -1).mean(axis=1)
    if logits.ndim == query_y.ndim + 1 and logits.shape[:-1] == query_y.shape:
        classes = logits.shape[-1]
        if not np.issubdtype(query_y.dtype, np.integer):
            if not np.array_equal(query_y, np.round(query_y)):
                raise invalid_value("query_y", query_y, "integer class indices",
                                    "multi-class accuracy compares the argmax of the logits "
                                    "with class indices")
            query_y = query_y.astype(np.int64)
        if query_y.size:
            from l2l.validation import checked_labels

            checked_labels(query_y, classes, "query_y", f"a model with {classes} class logits")
        correct = logits.argmax(axis=-1) == query_y
        return correct.reshape(len(logits), -1).mean(axis=1)
    raise invalid_value("predictions", logits, f"binary logits of the targets' shape "
                        f"{query_y.shape} or multi-class logits [..., classes] with one more "
                        "axis than the integer targets")


def per_episode_mse(predictions: np.ndarray, query_y: np.ndarray) -> np.ndarray:
    """Mean squared error of each episode."""
    predictions = np.asarray(predictions).reshape(np.shape(query_y))
    return ((predictions - query_y) ** 2).reshape(len(query_y), -1).mean(axis=1)


METRICS = {"accuracy": per_episode_accuracy, "mse": per_episode_mse}


def evaluate(model, episodes: Episode, metric: str = "accuracy", batch_size: int = 250,
             progress: bool = False) -> Score:
    """Score `model` on every episode of `episodes` with `metric` ("accuracy" or "mse").

    `episodes` were checked when made (`Episode`); the model checks them again as it reads
    them (`l2l.validation`: labels in range for its `ways`, examples of its shape), and the
    targets are checked against its logits (`per_episode_accuracy`). With `progress=True`, an
    `l2l.progress.Progress` on stderr follows the episodes scored: a live bar on a terminal,
    one line per batch of `batch_size` episodes elsewhere.
    """
    if metric not in METRICS:
        raise invalid_value("metric", metric, f"one of {sorted(METRICS)}")
    if not isinstance(episodes, Episode):
        raise invalid_value("episodes", episodes, "an l2l.episodes.Episode (checked when made)",
                            "score on task.fixed_episodes(n, seed) or an Episode you build",
                            error=InvalidTypeError)
    # Only with progress: any object with Keras's predict(inputs, batch_size, verbose) scores.
    shown = {"callbacks": [_progress_callback(episodes.batch_size, batch_size)]} \
        if progress else {}
    predictions = model.predict(episodes.inputs(), batch_size=batch_size, verbose=0, **shown)
    for callback in shown.get("callbacks", []):
        callback.progress.close()
    scores = METRICS[metric](predictions, episodes.query_y)
    mean, ci = mean_ci95(scores)
    return Score(metric, mean, ci, len(scores))


def _progress_callback(episodes: int, batch_size: int):
    """A `predict` callback advancing an `l2l.progress.Progress` over `episodes` episodes."""
    import keras

    from l2l.progress import Progress

    class ProgressCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.progress = Progress(episodes, "evaluate", unit="episodes")

        def on_predict_batch_end(self, batch, logs=None):
            done = min((batch + 1) * batch_size, episodes)
            self.progress.advance(done - self.progress.done)

    return ProgressCallback()
