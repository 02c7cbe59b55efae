"""Sinusoid regression (MAML protocol): held-out MSE at 5 and 10 shots per learner kind.

Tasks are `l2l.tasks.SinusoidTask` (amplitude in [0.1, 5], phase in [0, pi], x in [-5, 5];
Finn et al., 2017). Every method is trained ONCE on ragged support sets, `shots=(1, max)` with
`max` the largest evaluated shot count, so one model answers every shot count, and is then
scored on stored test sets of `test_episodes` tasks per shot count (`eval_queries` noise-free
query points each), the same episodes for every method. A row is (method, shots): mean MSE
with its 95% interval over tasks, training seconds and seconds per update.

Methods are the entries of `METHODS` (name -> builder of a compiled model); by default the
learner kinds of `l2l.presets.REGRESSION_KINDS`. Adding a method is adding an entry.

Budget: 5 methods x `minutes_per_method` (default 1.9) training minutes on 2 CPU cores, plus
evaluation, about 12 minutes. Not done: several training seeds (one seed per run), longer
training (`-o minutes_per_method=...`), per-shot models, noisy support targets, and the
gradient-based algorithms (MAML etc.), which are scored by their own script.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.common import PeakRSS, row, stored_episodes, train_and_evaluate

MAML_MSE = {5: 1.13, 10: 0.77}
"""MAML's published figures on this protocol (Finn et al., 2017), by shots."""


def _preset(kind: str) -> Callable:
    def build(width: int = 64, depth: int = 2):
        from l2l.presets import regression_model

        return regression_model(kind, width=width, depth=depth)
    return build


METHODS: dict[str, Callable] = {
    kind: _preset(kind) for kind in ("pooled", "attention", "sequence", "hyper", "film")
}
"""Method name -> `build(width, depth)` returning a compiled regression `MetaModel`."""


def run(quick: bool = False, seed: int = 0, *, methods: tuple[str, ...] | None = None,
        shots: tuple[int, ...] = (5, 10), minutes_per_method: float | None = None,
        steps_per_epoch: int | None = None, batch_size: int | None = None,
        train_queries: int = 10, eval_queries: int = 50, test_episodes: int | None = None,
        width: int | None = None, depth: int = 2) -> dict:
    """Train each method once on ragged shots, score it at every shot count."""
    import keras

    from l2l.evaluation import evaluate
    from l2l.tasks import SinusoidTask

    methods = methods or (("pooled", "attention") if quick else tuple(METHODS))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {sorted(METHODS)}.")
    if not shots or min(shots) < 1:
        raise ValueError(f"shots must be positive shot counts, got {shots!r}.")
    minutes = minutes_per_method if minutes_per_method is not None else (0.03 if quick else 1.9)
    steps = steps_per_epoch or (5 if quick else 100)
    batch_size = batch_size or (8 if quick else 32)
    n_test = test_episodes or (50 if quick else 1000)
    width = width or (16 if quick else 64)
    max_shots = max(shots)

    tests = {k: stored_episodes(SinusoidTask(shots=k, queries=eval_queries),
                                f"sinusoid-{k}shot-q{eval_queries}", n_test, "test")
             for k in shots}
    train = SinusoidTask(shots=(1, max_shots), queries=train_queries)
    rows = []
    for name in methods:
        keras.utils.set_random_seed(seed)
        with PeakRSS() as memory:
            model = METHODS[name](width=width, depth=depth)
            out = train_and_evaluate(model, train.dataset(batch_size, seed=seed),
                                     tests[shots[0]], minutes=minutes, steps_per_epoch=steps,
                                     metric="mse", anneal=True)
            scores = {shots[0]: out}
            for k in shots[1:]:
                score = evaluate(model, tests[k], metric="mse")
                scores[k] = {"mean": score.mean, "ci95": score.ci95, "episodes": score.episodes}
            update = seconds_per_update(model, train.episodes(batch_size, seed=seed + 1))
        for k in shots:
            rows.append(row(
                name, "mse", scores[k]["mean"], ci95=scores[k]["ci95"],
                episodes=scores[k]["episodes"], train_seconds=out["train_seconds"],
                memory=memory, seed=seed, settings={"shots": k},
                steps=out["steps"], episodes_trained=out["steps"] * batch_size,
                seconds_per_update=update,
                seconds_per_update_incl_tracing=round(out["train_seconds"] / out["steps"], 5),
                maml_mse=MAML_MSE.get(k),
                beats_maml=None if k not in MAML_MSE else bool(
                    scores[k]["mean"] + scores[k]["ci95"] < MAML_MSE[k])))
        keras.backend.clear_session()
    return {"rows": rows, "settings": {
        "methods": methods, "shots": shots, "train_shots": [1, max_shots],
        "training": "one model per method on ragged shots 1..max(shots), scored at each shot "
                    "count", "minutes_per_method": minutes, "steps_per_epoch": steps,
        "batch_size": batch_size, "train_queries": train_queries, "eval_queries": eval_queries,
        "test_episodes": n_test, "width": width, "depth": depth, "learning_rate": 1e-3,
        "lr_schedule": "cosine to zero over the time budget", "maml_mse": MAML_MSE,
        "baseline_zero_mse": "about 4.2 (predicting 0: E[A^2]/2)"},
        "notes": _notes(rows, minutes)}


def seconds_per_update(model, batch, repeats: int = 20) -> float:
    """Median seconds of one `train_on_batch` update on `batch` (after one warm-up update).

    Measured after scoring, so it changes nothing that is reported; excludes data generation
    and the first step's tracing, which `seconds_per_update_incl_tracing` includes.
    """
    import time

    inputs, targets = batch.as_fit_data()
    model.train_on_batch(inputs, targets)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(inputs, targets)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)), 6)


def _notes(rows: list[dict], minutes: float) -> list[str]:
    notes = [f"One seed, {minutes:g} training minutes per method on a shared 2-core CPU "
             "(see load_1min per row). seconds_per_update: median of 20 train_on_batch updates "
             "after training; seconds_per_update_incl_tracing: training time / steps.",
             "MAML's figures are quoted from its paper, not re-run here: a different model (a "
             "small MLP adapted by gradient steps) and training budget, so 'beats' compares "
             "results on the same task distribution and metric, not equal compute."]
    for r in rows:
        k = r["settings"]["shots"]
        if k not in MAML_MSE:
            continue
        verdict = ("beats" if r["beats_maml"] else
                   "is within the interval of" if r["mean"] - r["ci95"] <= MAML_MSE[k] else
                   "does not beat")
        notes.append(f"{r['method']} {k}-shot: MSE {r['mean']:.3f} +- {r['ci95']:.3f} "
                     f"{verdict} MAML's published {MAML_MSE[k]}.")
    failed = sorted({r["method"] for r in rows if r["mean"] > 3.0})
    if failed:
        notes.append(f"Failed to learn (MSE near the predict-zero baseline of about 4.2): "
                     f"{', '.join(failed)}.")
    return notes


def plot(result: dict):
    """Test MSE (95% CI) per method and shot count, with MAML's published figures."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    shots = list(dict.fromkeys(r["settings"]["shots"] for r in rows))
    width = 0.8 / len(shots)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(methods))
    for i, k in enumerate(shots):
        by = {r["method"]: r for r in rows if r["settings"]["shots"] == k}
        ax.bar(x - 0.4 + width * (i + 0.5), [by[m]["mean"] for m in methods], width,
               yerr=[by[m]["ci95"] for m in methods], capsize=3, label=f"{k} shots")
        if k in MAML_MSE:
            ax.axhline(MAML_MSE[k], color=f"C{i}", ls="--", lw=0.9,
                       label=f"MAML {k} shots ({MAML_MSE[k]})")
    ax.set_xticks(x, methods)
    ax.set_ylabel("test MSE (1,000 tasks)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    minutes = result["settings"]["minutes_per_method"]
    ax.set_title(f"sinusoid regression, {minutes:g} training minutes per method "
                 f"({result['mode']} run)", fontsize=9)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """A table: one line per method, one column per shot count."""
    from benchmarks.readme import format_value

    rows = result["rows"]
    shots = list(dict.fromkeys(r["settings"]["shots"] for r in rows))
    lines = ["| method | " + " | ".join(f"MSE {k}-shot" for k in shots)
             + " | train s | s/update |", "|---" * (len(shots) + 3) + "|"]
    for m in dict.fromkeys(r["method"] for r in rows):
        by = {r["settings"]["shots"]: r for r in rows if r["method"] == m}
        first = by[shots[0]]
        lines.append(f"| {m} | " + " | ".join(format_value("mse", by[k]["mean"], by[k]["ci95"])
                                             for k in shots)
                     + f" | {first['train_seconds']:.0f} | {first['seconds_per_update']:.4f} |")
    lines.append("| MAML (published) | " + " | ".join(str(MAML_MSE.get(k, "-")) for k in shots)
                 + " | | |")
    return "\n".join(lines)
