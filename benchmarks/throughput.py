"""Throughput: two-digit episodes/s generated (numpy, tf.data) vs consumed by training, per kind.

For each episode batch size, on the two-digit training task (`strict`, 1-shot, 8 queries):

- `generate/numpy`: `TaskDistribution.episodes` on one worker, `repeats` windows of `seconds`;
- `generate/tf.data`: batches drawn from `TaskDistribution.dataset` (parallel workers,
  prefetch), measured the same way after the pipeline has started;
- `train/<kind>`: `Model.fit` steps of `two_digit_model(kind)` on batches generated beforehand
  (so data generation costs nothing), timed per step after warm-up steps (graph tracing and XLA
  compilation excluded, reported as `warmup_seconds`). Rows carry the step time and the
  ratios `generation_ratio_numpy` / `generation_ratio_tfdata`: generated episodes/s over
  trained episodes/s. Above 1, generation keeps up with training; below 1 it is the bottleneck.

Each row's `peak_rss_mb` is the process's peak resident memory during that measurement, which
includes what earlier rows left allocated (`rss_start_mb`, the resident memory when it began).
The machine is shared: each row records the 1-minute load average when it finished
(`load_1min`). Full mode takes about 5-10 minutes on 2 CPU cores; quick mode seconds (two small
batch sizes, one kind).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import PeakRSS, device, progress, rate_with_ci, row
from l2l.evaluation import mean_ci95
from l2l.tasks.two_digit import TwoDigitTask


def run(quick: bool = False, seed: int = 0, *, batch_sizes: tuple[int, ...] | None = None,
        kinds: tuple[str, ...] | None = None, seconds: float | None = None,
        repeats: int | None = None, train_steps: int | None = None, warmup_steps: int = 3,
        protocol: str = "strict", shots: int = 1, queries: int = 8,
        data_dir: str | None = None) -> dict:
    """Measure generation and training rates for every batch size (and kind)."""
    import keras

    from l2l.datasets import load_mnist
    from l2l.kinds import names as kind_names
    from l2l.presets import TWO_DIGIT_KINDS, two_digit_model

    batch_sizes = batch_sizes or ((4, 8) if quick else (8, 32, 128))
    kinds = kinds or (("original",) if quick else TWO_DIGIT_KINDS)
    seconds = seconds or (0.2 if quick else 1.0)
    repeats = repeats or (2 if quick else 5)
    train_steps = train_steps or (3 if quick else 20)
    if min(batch_sizes) < 1 or train_steps < 2 or repeats < 1 or warmup_steps < 1:
        raise ValueError("batch_sizes must be >= 1, train_steps >= 2, repeats and "
                         "warmup_steps >= 1.")
    for kind in kinds:
        if kind not in kind_names("two_digit"):  # l2l's kinds and those a user registered
            raise ValueError(f"Unknown learner kind {kind!r}; choose from "
                             f"{kind_names('two_digit')}.")

    images, labels = load_mnist(data_dir)
    task = TwoDigitTask(images, labels, split="train", protocol=protocol, shots=shots,
                        queries=queries)
    rows = []
    progress.plan(len(batch_sizes) * (1 + len(kinds)))
    for batch_size in batch_sizes:
        settings = {"batch_size": batch_size}
        progress.cell(f"generate, batch {batch_size}")
        with PeakRSS() as memory:
            counts = [_measure(lambda i, b=batch_size: task.episodes(b, seed, i), batch_size,
                               seconds) for _ in range(repeats)]
        numpy_rate = _rate_row(rows, "generate/numpy", counts, settings, seed, memory)

        with PeakRSS() as memory:
            iterator = iter(task.dataset(batch_size, seed))
            for _ in range(3):  # start the workers and the prefetch buffer
                next(iterator)
            counts = [_measure(lambda i, it=iterator: next(it), batch_size, seconds)
                      for _ in range(repeats)]
            del iterator
        tfdata_rate = _rate_row(rows, "generate/tf.data", counts, settings, seed, memory)

        for kind in kinds:
            progress.cell(f"train {kind}, batch {batch_size}")
            keras.utils.set_random_seed(seed)
            episodes = task.episodes(batch_size * (warmup_steps + train_steps), seed, 0)
            inputs, targets = episodes.as_fit_data()
            with PeakRSS() as memory:
                start = time.perf_counter()
                model = two_digit_model(kind)
                warm = warmup_steps * batch_size
                model.fit({k: v[:warm] for k, v in inputs.items()}, targets[:warm],
                          batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
                warmup_seconds = time.perf_counter() - start
                timer = _StepTimer()
                model.fit({k: v[warm:] for k, v in inputs.items()}, targets[warm:],
                          batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
                          callbacks=[timer.callback()])
            keras.backend.clear_session()
            rate, rate_ci, step, step_ci = rate_with_ci(batch_size, timer.steps)
            rows.append(row(
                f"train/{kind}", "episodes_per_second", rate, ci95=rate_ci,
                episodes=batch_size * len(timer.steps), train_seconds=sum(timer.steps),
                settings=settings, seed=seed, memory=memory,
                step_seconds=round(step, 5), step_seconds_ci95=round(step_ci, 5),
                warmup_seconds=round(warmup_seconds, 2),
                generation_ratio_numpy=round(numpy_rate / rate, 3),
                generation_ratio_tfdata=round(tfdata_rate / rate, 3)))
    return {
        "rows": rows,
        "settings": {"batch_sizes": batch_sizes, "kinds": kinds, "seconds": seconds,
                     "repeats": repeats, "train_steps": train_steps,
                     "warmup_steps": warmup_steps, "task": task.config() | {"images": len(images)},
                     "device": device()},
        "notes": [f"Measured on {device()}; generation and training share the same cores, so "
                  "on a CPU the two rates compete when run together."],
    }


def _measure(next_batch, batch_size: int, seconds: float) -> tuple[int, float]:
    """`(episodes, elapsed)` of calling `next_batch(i)` for `seconds` (at least once)."""
    start, batches = time.perf_counter(), 0
    while True:
        next_batch(batches)
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return batches * batch_size, elapsed


def _rate_row(rows: list, method: str, counts: list[tuple[int, float]], settings: dict,
              seed: int, memory: PeakRSS) -> float:
    """Append the row of a generation measurement; returns its mean rate."""
    rates = np.array([n / t for n, t in counts])
    mean, ci = mean_ci95(rates)
    rows.append(row(method, "episodes_per_second", mean, ci95=ci,
                    episodes=sum(n for n, _ in counts), settings=settings, seed=seed,
                    memory=memory, repeats=len(counts),
                    measured_seconds=round(sum(t for _, t in counts), 3)))
    return mean


class _StepTimer:
    """Wall-clock time of every training step of a `fit`."""

    def __init__(self):
        self.steps: list[float] = []

    def callback(self):
        import keras

        timer = self

        class StepTimer(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                self._start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                timer.steps.append(time.perf_counter() - self._start)

        return StepTimer()


def plot(result: dict):
    """Episodes/s against batch size (left) and generation/training ratio (right)."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    colors = dict(zip(methods, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        sizes = [r["settings"]["batch_size"] for r in mine]
        style = "--" if method.startswith("generate") else "-"
        left.errorbar(sizes, [r["mean"] for r in mine], yerr=[r["ci95"] or 0 for r in mine],
                      fmt=style, marker="o", ms=4, capsize=3, label=method,
                      color=colors.get(method))
        if method.startswith("train"):
            right.plot(sizes, [r["generation_ratio_numpy"] for r in mine], "-o", ms=4,
                       color=colors.get(method), label=f"numpy / {method}")
            right.plot(sizes, [r["generation_ratio_tfdata"] for r in mine], ":s", ms=4,
                       color=colors.get(method), label=f"tf.data / {method}")
    right.axhline(1.0, color="gray", lw=0.8)
    left.set_ylabel("episodes per second")
    right.set_ylabel("generated / trained episodes per second")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(result["settings"]["batch_sizes"],
                      [str(b) for b in result["settings"]["batch_sizes"]])
        ax.set_yscale("log")
        ax.set_xlabel("episodes per batch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"two-digit episode throughput on {result['machine']['device']} "
                 f"({result['machine']['cores']} cores, {result['mode']} run)", fontsize=9)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """One line per batch size: generation rates, then each kind's training rate."""
    from benchmarks.readme import format_number, format_value

    rows = result["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["| episodes per batch | " + " | ".join(methods) + " |",
             "| --- | " + " | ".join("---" for _ in methods) + " |"]
    for size in dict.fromkeys(r["settings"]["batch_size"] for r in rows):
        cells = []
        for method in methods:
            r = next((r for r in rows if r["method"] == method
                      and r["settings"]["batch_size"] == size), None)
            if r is None:
                cells.append("")
                continue
            text = format_value(r["metric"], r["mean"], r["ci95"])
            if "step_seconds" in r:
                text += (f" ({1000 * r['step_seconds']:.0f} ms/step; generation "
                         f"×{format_number(r['generation_ratio_numpy'])} numpy, "
                         f"×{format_number(r['generation_ratio_tfdata'])} tf.data)")
            cells.append(text)
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Episodes per second (± 95% CI over repeated windows for generation, over "
                 "steps for training, whose warm-up is excluded). In brackets: step time, and "
                 "how many times faster episodes are generated than trained on (below 1: "
                 "generation is the bottleneck).")
    return "\n".join(lines)
