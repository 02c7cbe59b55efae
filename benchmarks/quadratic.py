"""Quadratic functions (after Hochreiter et al., 2001): query MSE against examples seen, 1..50.

Tasks are `l2l.tasks.QuadraticTask(dims=2)` (six coefficients uniform in [-1, 1], inputs in
[-1, 1]^2; the library's reading of the protocol, see that module). Every method in `METHODS`
is trained once on ragged support sets of 1..`max_shots` examples (padding last), then scored
on the same stored test set of `test_episodes` tasks with `max_shots` support and
`eval_queries` query points: for each k in `ks`, the support set is cut to its first k
examples (the mask), and the query MSE is recorded. One row per (method, k).

Extra rows:
- `sequence/online`: the sequence learner's online prediction of support example k+1 from the
  k examples before it (`l2l.learners.sequence.online_predictions`), the quantity the
  paper's LSTM was judged on; the same model as `sequence`, scored on support points instead of
  query points.
- `least-squares`: a reference that knows the function class: minimum-norm least squares on
  the six monomials of the k examples (exact from k = 6 on, noise-free).
- the predict-zero baseline, `QuadraticTask.mean_predictor_mse()` (about 0.726), is in
  `settings`.

Budget: 3 methods x `minutes_per_method` (default 2.5) training minutes on 2 CPU cores plus
scoring at every k, about 11 minutes. Not done: several seeds, longer training, more inputs
(`dims`), noisy targets, and the paper's exact protocol (we only had its abstract).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.common import PeakRSS, progress, row, stored_episodes, train_and_evaluate


def _preset(kind: str) -> Callable:
    def build(width: int = 64, depth: int = 2):
        from l2l.presets import regression_model

        return regression_model(kind, width=width, depth=depth)
    return build


METHODS: dict[str, Callable] = {k: _preset(k) for k in ("sequence", "pooled", "attention")}
"""Method name -> `build(width, depth)` returning a compiled regression `MetaModel`; any other
model kind registered for regression (`l2l.presets.register_kind`) is a method too."""


def first_k(episodes, k: int):
    """`episodes` with only the first `k` support examples (the rest masked and zeroed)."""
    return episodes.first_support(k)


def least_squares_mse(task, episodes, k: int) -> np.ndarray:
    """Per-episode query MSE of minimum-norm least squares on the monomials of k examples."""
    a = task.monomials(episodes.support_x[:, :k].astype("float64"))
    b = episodes.support_y[:, :k, 0].astype("float64")
    coefficients = np.einsum("bmk,bk->bm", np.linalg.pinv(a), b)
    predictions = np.einsum("bqm,bm->bq", task.monomials(episodes.query_x.astype("float64")),
                            coefficients)
    return ((predictions - episodes.query_y[..., 0]) ** 2).mean(axis=1)


def run(quick: bool = False, seed: int = 0, *, methods: tuple[str, ...] | None = None,
        dims: int = 2, max_shots: int | None = None, ks: tuple[int, ...] | None = None,
        minutes_per_method: float | None = None, steps_per_epoch: int | None = None,
        batch_size: int | None = None, train_queries: int = 10, eval_queries: int = 20,
        test_episodes: int | None = None, width: int | None = None, depth: int = 2) -> dict:
    """Train each method once on ragged shots, score it with the first k examples, every k."""
    import keras

    from l2l.evaluation import evaluate, mean_ci95
    from l2l.learners.sequence import online_predictions
    from l2l.tasks import QuadraticTask

    methods = methods or (("sequence", "pooled") if quick else tuple(METHODS))
    from l2l.kinds import names

    unknown = [m for m in methods if m not in METHODS and m not in names("regression")]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {sorted(METHODS)} or a "
                         "model kind registered with l2l.presets.register_kind.")
    max_shots = max_shots or (8 if quick else 50)
    ks = tuple(ks or range(1, max_shots + 1))
    if min(ks) < 1 or max(ks) > max_shots:
        raise ValueError(f"ks must lie in 1..max_shots={max_shots}, got {ks!r}.")
    minutes = minutes_per_method if minutes_per_method is not None else (0.03 if quick else 2.5)
    steps = steps_per_epoch or (5 if quick else 100)
    batch_size = batch_size or (8 if quick else 32)
    n_test = test_episodes or (50 if quick else 1000)
    width = width or (16 if quick else 64)

    task = QuadraticTask(dims=dims, shots=max_shots, queries=eval_queries)
    test = stored_episodes(task, f"quadratic-d{dims}-{max_shots}shot-q{eval_queries}", n_test,
                           "test")
    train = QuadraticTask(dims=dims, shots=(1, max_shots), queries=train_queries)
    rows = []

    def add(method, k, values, **extra):
        mean, ci = mean_ci95(values)
        rows.append(row(method, "mse", mean, ci95=ci, episodes=len(values), seed=seed,
                        settings={"k": k}, **extra))

    for k in ks:
        add("least-squares", k, least_squares_mse(task, test, k))
    progress.plan(len(methods))
    for name in methods:
        progress.cell(name)
        keras.utils.set_random_seed(seed)
        with PeakRSS() as memory:
            model = METHODS.get(name, _preset(name))(width=width, depth=depth)
            out = train_and_evaluate(model, train.dataset(batch_size, seed=seed), test,
                                     minutes=minutes, steps_per_epoch=steps, metric="mse",
                                     anneal=True)
            curve = {}
            for k in ks:
                if k == max_shots:
                    curve[k] = (out["mean"], out["ci95"], out["episodes"])
                else:
                    s = evaluate(model, first_k(test, k), metric="mse")
                    curve[k] = (s.mean, s.ci95, s.episodes)
            online = None
            if name == "sequence":
                predictions = online_predictions(model, test)
                online = ((predictions - test.support_y[..., 0]) ** 2)  # [B, S]
        fields = dict(train_seconds=out["train_seconds"], memory=memory, steps=out["steps"],
                      episodes_trained=out["steps"] * batch_size)
        for k in ks:
            mean, ci, n = curve[k]
            rows.append(row(name, "mse", mean, ci95=ci, episodes=n, seed=seed,
                            settings={"k": k}, **fields))
        if online is not None:
            for k in ks:
                if k < max_shots:  # support example k+1 (index k) after seeing k examples
                    add("sequence/online", k, online[:, k], train_seconds=out["train_seconds"],
                        memory=memory, target="support example k+1")
        keras.backend.clear_session()

    baseline = task.mean_predictor_mse()
    return {"rows": rows, "settings": {
        "methods": methods, "dims": dims, "max_shots": max_shots, "ks": ks,
        "train_shots": [1, max_shots], "minutes_per_method": minutes,
        "steps_per_epoch": steps, "batch_size": batch_size, "train_queries": train_queries,
        "eval_queries": eval_queries, "test_episodes": n_test, "width": width, "depth": depth,
        "learning_rate": "each kind's default (l2l.kinds: 1e-3 unless the kind sets its own)",
        "lr_schedule": "cosine to zero over the time budget",
        "predict_zero_mse": round(baseline, 4),
        "exact_from_k": task.num_coefficients}, "notes": _notes(rows, minutes, baseline)}


def _notes(rows: list[dict], minutes: float, baseline: float) -> list[str]:
    notes = [f"One seed, {minutes:g} training minutes per method on a shared 2-core CPU. "
             f"Predicting zero scores {baseline:.3f}; least squares on the true monomials is "
             "exact (MSE 0) from k = 6 noise-free examples and is a reference, not a learner."]
    for method in dict.fromkeys(r["method"] for r in rows):
        curve = {r["settings"]["k"]: r["mean"] for r in rows if r["method"] == method}
        picks = [k for k in (1, 5, 10, 20, 49, 50) if k in curve]
        notes.append(f"{method}: MSE " + ", ".join(f"{curve[k]:.3f} at k={k}" for k in picks)
                     + ".")
        if method != "least-squares" and min(curve.values()) > 0.8 * baseline:
            notes.append(f"{method} failed to learn: its MSE stays near the predict-zero "
                         f"baseline {baseline:.3f}.")
    return notes


def plot(result: dict):
    """Query MSE against the number of examples seen, one line (95% band) per method."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(7, 4))
    floor = np.inf
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["settings"]["k"])
        k = np.array([r["settings"]["k"] for r in mine])
        mean = np.array([r["mean"] for r in mine])
        ci = np.array([r["ci95"] for r in mine])
        if method == "least-squares":  # exact (MSE ~1e-15) from k = 6: drawn to the floor
            ax.plot(k, mean, ls="--", color="gray", label=f"{method} (exact from k = "
                    f"{result['settings']['exact_from_k']})")
            continue
        line, = ax.plot(k, mean, label=method)
        ax.fill_between(k, np.maximum(mean - ci, 1e-12), mean + ci, alpha=0.2,
                        color=line.get_color())
        floor = min(floor, float(np.min(mean)))
    ax.axhline(result["settings"]["predict_zero_mse"], color="k", lw=0.8, ls=":",
               label="predict zero")
    ax.set_yscale("log")
    if np.isfinite(floor):
        ax.set_ylim(bottom=floor / 3)
    ax.set_xlabel("examples seen k")
    ax.set_ylabel("MSE (1,000 held-out tasks)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(f"quadratic functions of {result['settings']['dims']} inputs, "
                 f"{result['settings']['minutes_per_method']:g} training minutes per method "
                 f"({result['mode']} run)", fontsize=9)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """A table: one line per method, MSE at a few k."""
    from benchmarks.readme import format_value

    rows = result["rows"]
    ks = [k for k in (1, 2, 5, 10, 20, 49, 50) if k in result["settings"]["ks"]]
    lines = ["| method | " + " | ".join(f"k={k}" for k in ks) + " |", "|---" * (len(ks) + 1)
             + "|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        by = {r["settings"]["k"]: r for r in rows if r["method"] == method}
        lines.append(f"| {method} | " + " | ".join(
            format_value("mse", by[k]["mean"], by[k]["ci95"]) if k in by else "-" for k in ks)
            + " |")
    lines.append(f"\nPredicting zero: {result['settings']['predict_zero_mse']}.")
    return "\n".join(lines)
