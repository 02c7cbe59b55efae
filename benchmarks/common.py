"""What benchmark modules share: stored evaluation episodes, rows, memory, training to a budget.

- `stored_episodes(task, name, num_episodes, split)`: the fixed evaluation set of `task` from
  the HDF5 episode store (`l2l.episode_store`), generated on first use under the episode folder
  (`benchmarks/episodes/`, or `$L2L_EPISODE_DIR`, or `--episode-dir`), always with the seed
  `EVALUATION_SEED`: a run's `--seed` changes training, never the episodes methods are scored on.
- `PeakRSS()`: a context manager measuring the peak resident memory of the process inside it.
- `row(...)`: one result row in the format of `benchmarks.schema.ROW_FIELDS`.
- `train_and_evaluate(model, train, test, ...)`: `fit` for a wall-clock budget, validating each
  epoch and noting when validation first reaches a target, then the score on the test set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import numpy as np

from l2l.episode_store import episode_set
from l2l.episodes import Episode
from l2l.tasks.base import TaskDistribution
from l2l.training import peak_rss_mb

EVALUATION_SEED = 0
"""The seed of every stored evaluation set: the same episodes for every method and run."""

LOWER_IS_BETTER = ("mse", "loss")
"""Metrics where smaller is better (a target is reached by falling to it)."""

EPISODE_DIR_ENV = "L2L_EPISODE_DIR"
DEFAULT_EPISODE_DIR = Path(__file__).resolve().parent / "episodes"


@dataclasses.dataclass
class StoreSettings:
    directory: Path | None = None  # None: $L2L_EPISODE_DIR, else DEFAULT_EPISODE_DIR
    regenerate: bool = False


STORE = StoreSettings()


@contextlib.contextmanager
def episode_store(directory: str | os.PathLike | None = None, regenerate: bool = False):
    """Within the block, `stored_episodes` uses `directory` and the `regenerate` flag."""
    saved = dataclasses.replace(STORE)
    STORE.directory = Path(directory) if directory is not None else None
    STORE.regenerate = regenerate
    try:
        yield STORE
    finally:
        STORE.directory, STORE.regenerate = saved.directory, saved.regenerate


def episode_dir() -> Path:
    if STORE.directory is not None:
        return STORE.directory
    return Path(os.environ.get(EPISODE_DIR_ENV) or DEFAULT_EPISODE_DIR)


def stored_episodes(task: TaskDistribution, name: str, num_episodes: int, split: str) -> Episode:
    """The `num_episodes` evaluation episodes of `task`'s `split`, from the episode store.

    `name` identifies the set among a benchmark's sets (e.g. "two_digit-strict-1shot"); the
    file is `<episode dir>/<name>-<split>-n<num_episodes>-seed<EVALUATION_SEED>.h5`.
    """
    path = episode_dir() / f"{name}-{split}-n{num_episodes}-seed{EVALUATION_SEED}.h5"
    return episode_set(path, task, num_episodes, EVALUATION_SEED, split,
                       regenerate=STORE.regenerate)


class PeakRSS:
    """Peak resident memory (MiB) of this process while the `with` block runs.

    On Linux the kernel's high-water mark is reset on entry (`/proc/self/clear_refs`), so `mb`
    is the peak reached during the block (`scope == "row"`); it includes what the process
    already held on entry, `start_mb`, so `mb - start_mb` is the most the block added.
    Where the reset is not possible `mb` is `resource.getrusage`'s peak since the process
    started (`scope == "process"`).
    """

    def __init__(self):
        self.mb, self.scope, self.start_mb = 0.0, "process", None

    def __enter__(self) -> PeakRSS:
        self.start_mb = _status_mb("VmRSS:")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.scope = "row" if _status_mb("VmHWM:") is not None else "process"
        except OSError:
            self.scope = "process"
        return self

    def __exit__(self, *exc) -> None:
        self.mb = self.read()

    def read(self) -> float:
        """The peak so far (also usable inside the block)."""
        if self.scope == "row":
            value = _status_mb("VmHWM:")
            if value is not None:
                return round(value, 1)
        return round(peak_rss_mb(), 1)




def _status_mb(field: str) -> float | None:
    """A memory field of `/proc/self/status` (e.g. "VmHWM:", "VmRSS:") in MiB, if readable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def row(method: str, metric: str, mean: float, *, settings: dict, seed: int,
        ci95: float | None = None, episodes: int = 0, train_seconds: float | None = None,
        memory: PeakRSS | None = None, **extra) -> dict:
    """One result row (see `benchmarks.schema.ROW_FIELDS`); `extra` adds fields.

    `memory` is the `PeakRSS` that measured the row (its `start_mb` is recorded as
    `rss_start_mb`); without one, the process peak is used. The 1-minute load average when the
    row was made is recorded as `load_1min`.
    """
    peak = memory.mb if memory is not None else round(peak_rss_mb(), 1)
    if memory is not None and memory.start_mb is not None:
        extra = {"rss_start_mb": memory.start_mb, **extra}
    return {
        "method": method, "settings": dict(settings), "seed": int(seed), "metric": metric,
        "mean": float(mean), "ci95": None if ci95 is None else float(ci95),
        "episodes": int(episodes),
        "train_seconds": None if train_seconds is None else round(float(train_seconds), 2),
        "peak_rss_mb": float(peak), "peak_rss_scope": memory.scope if memory else "process",
        "load_1min": round(os.getloadavg()[0], 2), **extra,
    }


def time_to_target_callback(target: float, monitor: str, clock, lower_is_better: bool = False):
    """A Keras callback noting the training time at which `logs[monitor]` first reaches `target`.

    Reaching means `>= target`, or `<= target` with `lower_is_better` (errors, losses).
    `clock` is the `l2l.training.TimeBudget` of the same `fit` (listed before this callback),
    so the time counts training only, not validation. After `fit`, `.seconds` holds the time
    (None if never reached) and `.epoch` the epoch (1-based).
    """
    import keras

    class TimeToTarget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.epoch = None, None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            reached = value is not None and (
                value <= target if lower_is_better else value >= target)
            if self.seconds is None and reached:
                self.seconds, self.epoch = round(clock.elapsed, 2), epoch + 1

    return TimeToTarget()


def train_and_evaluate(model, train_data, test: Episode, *, minutes: float,
                       steps_per_epoch: int, validation: Episode | None = None,
                       metric: str = "accuracy", target: float | None = None,
                       max_epochs: int = 100_000, anneal: bool = False) -> dict:
    """Train `model` on `train_data` for `minutes` of training time, then score it on `test`.

    Validation (if given) runs after every epoch of `steps_per_epoch` steps and is not counted
    in the budget. With `target`, the training time until `val_<metric>` first reaches it is
    returned as `time_to_target_seconds` (None if never), resolved to one epoch; for "mse"
    reaching means falling to the target. Training time includes graph tracing and XLA
    compilation of the first step: what a user waits for.

    With `anneal`, the learning rate follows a cosine to zero over the time budget.

    Returns `mean`, `ci95`, `episodes` (test), `train_seconds`, `epochs`, `steps`,
    `time_to_target_seconds`, `time_to_target_epoch` and `val_curve` (per-epoch validation
    metric, empty without validation).
    """
    from l2l.evaluation import evaluate
    from l2l.training import TimeBudget

    budget = TimeBudget(minutes, anneal_learning_rate=anneal)
    callbacks = [budget]
    reach = None
    if target is not None and validation is not None:
        reach = time_to_target_callback(target, f"val_{metric}", budget,
                                        lower_is_better=metric in LOWER_IS_BETTER)
        callbacks.append(reach)
    history = model.fit(train_data, steps_per_epoch=steps_per_epoch, epochs=max_epochs,
                        validation_data=validation.as_fit_data() if validation else None,
                        callbacks=callbacks, shuffle=False, verbose=0)
    epochs = len(history.history["loss"])
    score = evaluate(model, test, metric=metric)
    return {
        "mean": score.mean, "ci95": score.ci95, "episodes": score.episodes,
        "train_seconds": budget.elapsed, "epochs": epochs,
        "steps": int(model.optimizer.iterations.numpy()),
        "time_to_target_seconds": reach.seconds if reach else None,
        "time_to_target_epoch": reach.epoch if reach else None,
        "val_curve": [round(float(v), 4) for v in history.history.get(f"val_{metric}", [])],
    }


def rate_with_ci(batch_size: int, step_seconds: list[float]) -> tuple[float, float, float, float]:
    """Episodes/s from per-step times: `(rate, rate_ci95, mean_step, step_ci95)`.

    The rate is `batch_size / mean step time`; its interval is the step-time interval carried
    through that division (first-order).
    """
    from l2l.evaluation import mean_ci95

    mean_step, step_ci = mean_ci95(np.asarray(step_seconds))
    rate = batch_size / mean_step
    return rate, batch_size * step_ci / mean_step**2, mean_step, step_ci


def device() -> str:
    """The device TensorFlow computes on: GPU names, or "CPU" when no GPU is visible."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU (no GPU visible to TensorFlow)"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return ", ".join(names)
