"""Scoring on fixed evaluation episodes: per-episode scores, their mean and a 95% CI.

Every method is scored by this module on the same `Episode` set (see
`TaskDistribution.fixed_episodes`), so figures are comparable. The confidence interval is the
normal approximation over episodes, `1.96 * std / sqrt(n)`, the convention of the
few-shot-learning literature.

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

import numpy as np

from l2l.episodes import Episode

Z_95 = 1.959963984540054


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


def mean_ci95(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95% confidence half-width of per-episode scores."""
    values = np.asarray(values, dtype="float64")
    if values.size == 0:
        raise ValueError("No scores to summarise: evaluate on at least one episode.")
    spread = values.std(ddof=1) if values.size > 1 else 0.0
    return float(values.mean()), float(Z_95 * spread / np.sqrt(values.size))


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
                raise ValueError("Multi-class accuracy needs integer class indices as targets, "
                                 f"got non-integer {query_y.dtype} values.")
            query_y = query_y.astype(np.int64)
        if query_y.size and (query_y.min() < 0 or query_y.max() >= classes):
            raise ValueError(f"Targets must be class indices in 0..{classes - 1} for logits with "
                             f"{classes} classes, got values {query_y.min()}..{query_y.max()}.")
        correct = logits.argmax(axis=-1) == query_y
        return correct.reshape(len(logits), -1).mean(axis=1)
    raise ValueError(f"predictions {logits.shape} do not fit targets {query_y.shape}: accuracy "
                     "needs binary logits of the targets' shape or multi-class logits "
                     "[..., classes] with one more axis than the integer targets.")


def per_episode_mse(predictions: np.ndarray, query_y: np.ndarray) -> np.ndarray:
    """Mean squared error of each episode."""
    predictions = np.asarray(predictions).reshape(np.shape(query_y))
    return ((predictions - query_y) ** 2).reshape(len(query_y), -1).mean(axis=1)


METRICS = {"accuracy": per_episode_accuracy, "mse": per_episode_mse}


def evaluate(model, episodes: Episode, metric: str = "accuracy", batch_size: int = 250,
             progress: bool = False) -> Score:
    """Score `model` on every episode of `episodes` with `metric` ("accuracy" or "mse").

    With `progress=True`, an `l2l.progress.Progress` on stderr follows the episodes scored:
    a live bar on a terminal, one line per batch of `batch_size` episodes elsewhere.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {sorted(METRICS)}.")
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
