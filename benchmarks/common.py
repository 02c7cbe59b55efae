"""What benchmark modules share: stored evaluation episodes, rows, memory, training to a budget.

- `stored_episodes(task, name, num_episodes, split)`: the fixed evaluation set of `task` from
  the HDF5 episode store (`l2l.episode_store`), generated on first use under the episode folder
  (`benchmarks/episodes/`, or `$L2L_EPISODE_DIR`, or `--episode-dir`), always with the seed
  `EVALUATION_SEED`: a run's `--seed` changes training, never the episodes methods are scored on.
- `PeakRSS()`: a context manager measuring the peak resident memory of the process inside it.
- `row(...)`: one result row in the format of `benchmarks.schema.ROW_FIELDS`.
- `train_and_evaluate(model, train, test, ...)`: `fit` for a wall-clock budget, validating each
  epoch and noting when validation first reaches a target, then the score on the test set.
- `mnist_split(data_dir)`: the 10,000 MNIST t10k images cut 80/20 into train and test rows.
- `median_interval(values)`: the row fields of a median (`ci95` None: a median has no
  symmetric half-width; `median_ci95` its order-statistic interval, or None below 6 values).
- `paired_difference(values, baseline)` and `verdict(...)`: a method against its baseline on
  the same scored items, and the plain sentence saying whether it beats it (`verdict_verb`:
  just its verb, for a table).
- `accuracy_bars(rows, group, label, ...)`: a bar chart of accuracies with their 95% CIs.
- `progress.plan(total)` and `progress.cell(label)`: a benchmark's progress, shown by
  `python -m benchmarks run` (`l2l.progress`); no-ops when nothing shows it.
- `tensorboard_logs(directory)`: `train_and_evaluate` inside it logs to TensorBoard
  (`python -m benchmarks run NAME --tensorboard DIR`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from l2l.episode_store import episode_set
from l2l.episodes import Episode
from l2l.tasks.base import TaskDistribution
from l2l.training.measure import peak_rss_mb, status_mb

EVALUATION_SEED = 0
"""The seed of every stored evaluation set: the same episodes for every method and run."""
VALIDATION_SEED = 1
"""The seed of the validation sets of task families without data splits (`stored_episodes`)."""

LOWER_IS_BETTER = ("mse", "loss")
"""Metrics where smaller is better (a target is reached by falling to it)."""

EPISODE_DIR_ENV = "L2L_EPISODE_DIR"
DEFAULT_EPISODE_DIR = Path(__file__).resolve().parent / "episodes"


_PROGRESS: list = []  # the l2l.progress.Progress of the benchmark running, if it is shown


@contextlib.contextmanager
def cell_progress(title: str, stream=None):
    """Within the block, `progress.plan`/`progress.cell` drive a `Progress` titled `title` on
    `stream` (stderr by default): the runner's display of one benchmark."""
    from l2l.progress import Progress

    progress = Progress(None, title, unit="cells", stream=stream)
    _PROGRESS.append(progress)
    try:
        yield progress
    finally:
        _PROGRESS.remove(progress)
        progress.close()


class CellProgress:
    """How a benchmark reports its cells (one trained and scored setting each): `progress.plan(
    total)` once, then `progress.cell(label)` as each cell begins. The runner shows them
    (`cell_progress`); `label` also names the cell's TensorBoard folder (`tensorboard_logs`)."""

    def plan(self, total: int) -> None:
        """This benchmark will run `total` cells."""
        if _PROGRESS:
            _PROGRESS[-1].total = int(total)

    def cell(self, label: str) -> None:
        """Cell `label` starts (e.g. "features, strict 1-shot"); the previous one finished."""
        _TENSORBOARD["cell"] = label
        if _PROGRESS:
            _PROGRESS[-1].start(label)


progress = CellProgress()


_TENSORBOARD: dict = {"dir": None, "cell": None, "runs": 0}


@contextlib.contextmanager
def tensorboard_logs(directory: str | os.PathLike):
    """Within the block, every `train_and_evaluate` logs to TensorBoard under `directory`,
    one subfolder per call named after the cell (`l2l.tensorboard.tensorboard_callbacks`)."""
    saved = dict(_TENSORBOARD)
    _TENSORBOARD.update(dir=Path(directory), cell=None, runs=0)
    try:
        yield Path(directory)
    finally:
        _TENSORBOARD.update(saved)


def _tensorboard_callbacks(episodes: Episode | None) -> list:
    """The TensorBoard callbacks of the next training run, or none when not logging."""
    if _TENSORBOARD["dir"] is None:
        return []
    from l2l.tensorboard import tensorboard_callbacks

    _TENSORBOARD["runs"] += 1
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", _TENSORBOARD["cell"] or "run").strip("_")
    return tensorboard_callbacks(_TENSORBOARD["dir"] / f"{_TENSORBOARD['runs']:02d}-{name}",
                                 episodes)


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


def stored_episodes(task: TaskDistribution, name: str, num_episodes: int, split: str,
                    seed: int = EVALUATION_SEED) -> Episode:
    """The `num_episodes` evaluation episodes of `task`'s `split`, from the episode store.

    `name` identifies the set among a benchmark's sets (e.g. "two_digit-strict-1shot"); the
    file is `<episode dir>/<name>-<split>-n<num_episodes>-seed<seed>.h5`. A task family
    without data splits (sinusoids, quadratics) draws every split from the same stream, so its
    validation set takes `VALIDATION_SEED` to be disjoint from the test set.
    """
    path = episode_dir() / f"{name}-{split}-n{num_episodes}-seed{seed}.h5"
    return episode_set(path, task, num_episodes, seed, split, regenerate=STORE.regenerate)


class PeakRSS:
    """Peak resident memory (MiB) of this process while the `with` block runs.

    On Linux the kernel's high-water mark is reset on entry (`/proc/self/clear_refs`), so `mb`
    is the peak reached during the block (`scope == "row"`); it includes what the process
    already held on entry, `start_mb`, so `mb - start_mb` is the most the block added.
    Where the reset is not possible `mb` is the process's peak since it started
    (`l2l.training.measure.peak_rss_mb`, `scope == "process"`).
    """

    def __init__(self):
        self.mb, self.scope, self.start_mb = 0.0, "process", None

    def __enter__(self) -> PeakRSS:
        self.start_mb = status_mb("VmRSS:")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.scope = "row" if status_mb("VmHWM:") is not None else "process"
        except OSError:
            self.scope = "process"
        return self

    def __exit__(self, *exc) -> None:
        self.mb = self.read()

    def read(self) -> float:
        """The peak so far (also usable inside the block)."""
        if self.scope == "row":
            value = status_mb("VmHWM:")
            if value is not None:
                return round(value, 1)
        return round(peak_rss_mb(), 1)




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


def train_and_evaluate(model, train_data, test: Episode | None, *, minutes: float,
                       steps_per_epoch: int, validation: Episode | None = None,
                       metric: str = "accuracy", target: float | None = None,
                       max_epochs: int = 100_000, anneal: bool = False,
                       monitor: str | None = None) -> dict:
    """Train `model` on `train_data` for `minutes` of training time, then score it on `test`.

    Validation (if given) runs after every epoch of `steps_per_epoch` steps and is not counted
    in the budget. With `target`, the training time until `val_<metric>` first reaches it is
    returned as `time_to_target_seconds` (None if never), resolved to one epoch; for "mse"
    reaching means falling to the target. Training time includes graph tracing and XLA
    compilation of the first step: what a user waits for.

    With `anneal`, the learning rate follows a cosine to zero over the time budget. A
    non-finite training loss raises `l2l.errors.NonFiniteLossError` at that step.

    With `test=None` nothing is scored (`mean`, `ci95` None, `episodes` 0): for a caller that
    scores the model its own way afterwards.

    Returns `mean`, `ci95`, `episodes` (test), `train_seconds`, `epochs`, `steps`,
    `time_to_target_seconds`, `time_to_target_epoch`, `val_curve` (per-epoch validation
    metric, empty without validation) and `train_curve` (per-epoch training `metric`, averaged
    over the epoch's steps; the loss for a model that logs no such metric). The validation
    log read is `monitor`, by default
    `val_<metric>` (a model compiled with MSE as its loss and no metric logs it as
    `val_loss`).
    """
    from l2l.callbacks import StopOnNonFiniteLoss
    from l2l.evaluation import evaluate
    from l2l.training import TimeBudget
    from l2l.training.distribute import enable_multi_worker_fit

    budget = TimeBudget(minutes, anneal_learning_rate=anneal)
    # A NaN or infinite training loss stops the benchmark with NonFiniteLossError at that step.
    callbacks = [StopOnNonFiniteLoss(), budget,
                 *_tensorboard_callbacks(validation if validation is not None else test)]
    monitor = monitor or f"val_{metric}"
    reach = None
    if target is not None and validation is not None:
        reach = time_to_target_callback(target, monitor, budget,
                                        lower_is_better=metric in LOWER_IS_BETTER)
        callbacks.append(reach)
    enable_multi_worker_fit(model)  # a no-op unless a multi-worker strategy is active
    history = model.fit(train_data, steps_per_epoch=steps_per_epoch, epochs=max_epochs,
                        validation_data=validation.as_fit_data() if validation else None,
                        callbacks=callbacks, shuffle=False, verbose=0)
    epochs = len(history.history["loss"])
    score = evaluate(model, test, metric=metric) if test is not None else None
    return {
        "mean": None if score is None else score.mean,
        "ci95": None if score is None else score.ci95,
        "episodes": 0 if score is None else score.episodes,
        "train_seconds": budget.elapsed, "epochs": epochs,
        "steps": int(model.optimizer.iterations.numpy()),
        "time_to_target_seconds": reach.seconds if reach else None,
        "time_to_target_epoch": reach.epoch if reach else None,
        "val_curve": [round(float(v), 4) for v in history.history.get(monitor, [])],
        "train_curve": [round(float(v), 4) for v in history.history.get(
            metric, history.history["loss"])],
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


def mnist_split(data_dir: str | None = None,
                fractions: tuple[float, float] = (0.8, 0.2)) -> tuple[np.ndarray, ...]:
    """`(images, labels, train_rows, test_rows)`: the MNIST t10k images (`load_mnist`), labels
    as int64, and their rows cut by `fraction_split` with `EVALUATION_SEED`, so the held-out
    rows are the same in every run whatever its `--seed`."""
    from l2l.datasets import load_mnist
    from l2l.tasks.base import fraction_split

    images, labels = load_mnist(data_dir)
    train_rows, test_rows = fraction_split(np.arange(len(images)),
                                           np.random.default_rng(EVALUATION_SEED), fractions)
    return images, labels.astype("int64"), train_rows, test_rows


def median_interval(values) -> dict:
    """The interval fields of a row whose figure is the median of `values` (timings).

    `ci95` is None (the interval of a mean does not belong to a median) and `median_ci95` is
    `[low, high]`, the distribution-free order-statistic interval of the median
    (`l2l.evaluation.median_ci95`), or None with fewer than 6 values, where none exists.

    >>> median_interval([0.31, 0.30, 0.35])
    {'ci95': None, 'median_ci95': None}
    >>> median_interval([5, 1, 4, 2, 3, 6, 7, 9, 8])
    {'ci95': None, 'median_ci95': [2.0, 8.0]}
    """
    from l2l.evaluation import median_ci95

    _, low, high = median_ci95(values)
    return {"ci95": None, "median_ci95": None if low is None else [low, high]}


def paired_difference(values, baseline) -> dict:
    """`{"difference", "ci95", "pairs"}`: mean of `values - baseline` over matched pairs.

    The pairs are the same scored item under two methods (one test image, or one repeat with
    the same target sample and initialisation seed), so the interval is that of the paired
    differences: much tighter than comparing two separate intervals. The interval is Student's
    t (`l2l.evaluation.mean_ci95`), so it is honest for the 3-5 repeats of a transfer run.

    >>> paired_difference([1, 1, 0, 1], [1, 0, 0, 1])   # t(0.975, 3) = 3.182
    {'difference': 0.25, 'ci95': 0.795612, 'pairs': 4}
    """
    from l2l.evaluation import mean_ci95

    values, baseline = np.asarray(values, "float64"), np.asarray(baseline, "float64")
    if values.shape != baseline.shape or values.ndim != 1 or values.size == 0:
        raise ValueError(f"paired_difference needs two equally long 1-D sequences of scores, "
                         f"got shapes {values.shape} and {baseline.shape}.")
    difference, ci = mean_ci95(values - baseline)
    return {"difference": round(difference, 6), "ci95": round(ci, 6), "pairs": int(values.size)}


def verdict(method: str, baseline: str, comparison: dict, unit: str = "points") -> str:
    """A plain sentence on a `paired_difference` of accuracies (shown in percentage points).

    A method beats its baseline only when the whole 95% interval of the paired difference is
    above zero; it is worse when the whole interval is below zero.

    >>> verdict("ft", "scratch", {"difference": 0.004, "ci95": 0.01, "pairs": 10})
    'ft does not beat scratch (+0.4 ± 1.0 points, paired over 10)'
    """
    d, ci = 100 * comparison["difference"], 100 * comparison["ci95"]
    return f"{method} {verdict_verb(comparison)} {baseline} ({d:+.1f} ± {ci:.1f} {unit}, " \
           f"paired over {comparison['pairs']})"


def verdict_verb(comparison: dict) -> str:
    """"beats" (the whole 95% interval of the `paired_difference` above zero), "is worse than"
    (all below) or "does not beat".

    >>> verdict_verb({"difference": -0.05, "ci95": 0.03, "pairs": 500})
    'is worse than'
    """
    d, ci = comparison["difference"], comparison["ci95"]
    if d - ci > 0:
        return "beats"
    if d + ci < 0:
        return "is worse than"
    return "does not beat"


def accuracy_bars(rows: list[dict], group, label, *, chance: float | None, title: str,
                  xlabel: str = "", ax=None):
    """A bar chart of accuracy (95% CI) per row: one cluster per `group(row)`, one bar colour
    per `label(row)`, chance as a dotted line. Returns the matplotlib Figure (a new one, or
    that of `ax` when given: a panel of a larger picture)."""
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(group(r) for r in rows))
    labels = list(dict.fromkeys(label(r) for r in rows))
    width = 0.8 / len(labels)
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.4 * len(labels) * len(groups)) + 2.4,
                                      3.8))
    fig = ax.figure
    x = np.arange(len(groups))
    for i, name in enumerate(labels):
        by = {group(r): r for r in rows if label(r) == name}
        ax.bar(x - 0.4 + width * (i + 0.5),
               [100 * by[g]["mean"] if g in by else np.nan for g in groups], width,
               yerr=[100 * (by[g]["ci95"] or 0) if g in by else 0 for g in groups],
               capsize=3, label=name)
    if chance is not None:
        ax.axhline(100 * chance, color="gray", ls=":", lw=1, label="chance")
    ax.set_xticks(x, [str(g) for g in groups], fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title, fontsize=9)
    if own:
        fig.tight_layout()
    return fig
