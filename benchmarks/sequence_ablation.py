"""Why the LSTM learner levels off: short probes, one factor of its recipe at a time (issue 14).

Each probe is the `BASE` recipe (the `"sequence"` kind at width 64 before issue 14: an LSTM
of 64 units reading `x_t` with `y_{t-1}` after a one-layer ReLU step embedding, a concat
predictor 128-128, Adam 1e-3) with the settings of `PROBES[name]` changed; names joined by
`+` combine probes (`pairs+lr3e-3`). Every probe trains for the same `steps` Adam updates
(cosine decay to zero over them, batch 32, ragged support sets of 1..`max_shots` examples,
seed 0), so probes compare at equal updates whatever the load of the shared CPU; the rows
record the training seconds too, which is what the time-budgeted benchmarks pay. Then it is
scored on the stored test tasks of the `quadratic` benchmark (1,000 tasks, 20 queries: MSE
with the first k of 50 support examples) or of the `sinusoid` benchmark (1,000 tasks per shot
count, 50 queries). One row per (probe, k).

Factors: capacity (`units128`, `layers2`, `embed2`), input scaling (`scale_x`, `scale_y`),
the label encoding (`pairs`: `(x_t, y_t)` instead of `(x_t, y_{t-1})`, `pool`), the
predictor (`compare`: comparison features `[q, c, q * c, |q - c|]`; `query_mlp`: the same
after a ReLU MLP of the query, so that the code can weight learned functions of `x`),
truncation (`shots20`: train on 1..20 examples only), the training
signal (`support_loss`: `l2l.models.CausalMetaModel`, every support target predicted from
the examples before it), learning rate (`lr3e-3`, `lr3e-4`), gradient clipping (`clip1`).
Training length is the `steps` option. Budget: about 1-3 minutes per probe on 2 loaded CPU
cores; the default list is about 15 minutes. Not done: several seeds (one per probe, so
differences under about 10% are within seed noise, not measured here).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import PeakRSS, progress, row, stored_episodes

BASE = {"units": 64, "lstm_layers": 1, "embed_units": None, "delay_labels": True,
        "pool_outputs": False, "input_scale": 1.0, "label_scale": 1.0, "interaction": False,
        "query_units": None, "predictor_units": (128, 128), "learning_rate": 1e-3, "clipnorm": None,
        "support_loss_weight": 0.0, "train_max_shots": None, "batch_size": 32}
"""The recipe every probe starts from: the `"sequence"` kind of `l2l.presets` at width 64,
depth 2, as it was when issue 14 was filed."""

PROBES: dict[str, dict] = {
    "base": {},
    "units128": {"units": 128},
    "layers2": {"lstm_layers": 2},
    "embed2": {"embed_units": (128, 128)},
    "pairs": {"delay_labels": False},
    "pool": {"pool_outputs": True},
    "compare": {"interaction": True},
    "query_mlp": {"interaction": True, "query_units": (128, 128)},
    "scale_x": {"input_scale": 0.2},
    "scale_y": {"label_scale": 0.2},
    "shots20": {"train_max_shots": 20},
    "support_loss": {"support_loss_weight": 1.0},
    "lr3e-3": {"learning_rate": 3e-3},
    "lr1e-2": {"learning_rate": 1e-2},
    "lr3e-4": {"learning_rate": 3e-4},
    "clip1": {"clipnorm": 1.0},
    "batch8": {"batch_size": 8},
}
"""Probe name -> the settings of `BASE` it changes."""

TASKS = {"quadratic": 50, "sinusoid": 20}
"""Task -> the largest support set trained on and scored (the benchmarks' own)."""


def recipe(name: str) -> dict:
    """`BASE` with the changes of every probe in `name` (`+`-joined), in order."""
    settings = dict(BASE)
    for part in name.split("+"):
        if part not in PROBES:
            raise ValueError(f"Unknown probe {part!r}; choose from {sorted(PROBES)}, joined "
                             "by '+'.")
        settings.update(PROBES[part])
    return settings


def build(settings: dict, steps: int):
    """The compiled model of one recipe, its learning rate cosine-decayed over `steps`."""
    import keras

    from l2l.learners import SequenceLearner
    from l2l.models import CausalMetaModel
    from l2l.predictors import ConditionedPredictor

    learner = SequenceLearner(units=settings["units"], delay_labels=settings["delay_labels"],
                              embed_units=settings["embed_units"],
                              pool_outputs=settings["pool_outputs"],
                              lstm_layers=settings["lstm_layers"],
                              input_scale=settings["input_scale"],
                              label_scale=settings["label_scale"])
    query = None if settings["query_units"] is None else keras.Sequential(
        [keras.layers.Dense(u, activation="relu") for u in settings["query_units"]])
    predictor = ConditionedPredictor(units=settings["predictor_units"], encoder=query,
                                     interaction=settings["interaction"])
    model = CausalMetaModel(learner, predictor,
                            support_loss_weight=settings["support_loss_weight"])
    rate = keras.optimizers.schedules.CosineDecay(settings["learning_rate"], steps)
    model.compile(optimizer=keras.optimizers.Adam(rate, global_clipnorm=settings["clipnorm"]),
                  loss="mse")
    return model


def test_sets(task: str, max_shots: int, n_test: int, quick: bool) -> tuple[dict, float]:
    """`{k: episodes}` scored at each k, and the predict-zero MSE of the task."""
    from benchmarks.quadratic import first_k
    from l2l.tasks import QuadraticTask, SinusoidTask

    if task == "quadratic":
        tasks = QuadraticTask(dims=2, shots=max_shots, queries=20)
        test = stored_episodes(tasks, f"quadratic-d2-{max_shots}shot-q20", n_test, "test")
        ks = (2, 5, 8) if quick else (5, 10, 20, 35, 50)
        return {k: first_k(test, k) for k in ks}, tasks.mean_predictor_mse()
    ks = (5, 8) if quick else (5, 10, 20)
    sets = {k: stored_episodes(SinusoidTask(shots=k, queries=50), f"sinusoid-{k}shot-q50",
                               n_test, "test") for k in ks}
    zero = float(np.mean([np.mean(s.query_y ** 2) for s in sets.values()]))
    return sets, zero


def run(quick: bool = False, seed: int = 0, *, task: str = "quadratic",
        probes: tuple[str, ...] | None = None, steps: int | None = None,
        test_episodes: int | None = None) -> dict:
    """Train every probe for `steps` updates and score it at every k."""
    import keras

    from l2l.evaluation import evaluate
    from l2l.tasks import QuadraticTask, SinusoidTask

    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}.")
    probes = probes or (("base", "support_loss") if quick else (
        "base", "units128", "layers2", "pairs", "scale_y", "shots20", "support_loss",
        "lr3e-3", "clip1"))
    recipes = {name: recipe(name) for name in probes}  # unknown names fail before training
    steps = steps or (3 if quick else 1500)
    n_test = test_episodes or (20 if quick else 1000)
    max_shots = 8 if quick else TASKS[task]
    sets, zero = test_sets(task, max_shots, n_test, quick)
    rows = []
    progress.plan(len(probes))
    for name, settings in recipes.items():
        progress.cell(name)
        keras.utils.set_random_seed(seed)
        train_shots = (1, min(settings["train_max_shots"] or max_shots, max_shots))
        train = (QuadraticTask(dims=2, shots=train_shots, queries=10) if task == "quadratic"
                 else SinusoidTask(shots=train_shots, queries=10))
        with PeakRSS() as memory:
            model = build(settings, steps)
            start = time.perf_counter()
            model.fit(train.dataset(settings["batch_size"], seed=seed), steps_per_epoch=steps,
                      epochs=1, verbose=0, shuffle=False)
            seconds = time.perf_counter() - start
            scores = {k: evaluate(model, episodes, metric="mse") for k, episodes in sets.items()}
        changed = {key: value for key, value in settings.items() if BASE[key] != value}
        for k, score in scores.items():
            rows.append(row(name, "mse", score.mean, ci95=score.ci95, episodes=score.episodes,
                            seed=seed, settings={"k": k}, train_seconds=seconds, memory=memory,
                            steps=steps, changes={k2: _jsonable(v) for k2, v in changed.items()},
                            fraction_of_variance=score.mean / zero))
        keras.backend.clear_session()
    return {"rows": rows, "settings": {
        "task": task, "probes": probes, "steps": steps, "test_episodes": n_test,
        "max_shots": max_shots, "base": {k: _jsonable(v) for k, v in BASE.items()},
        "predict_zero_mse": round(zero, 4), "lr_schedule": "cosine to zero over the steps"},
        "notes": _notes(rows, zero, steps)}


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def _notes(rows: list[dict], zero: float, steps: int) -> list[str]:
    notes = [f"One seed, {steps} Adam updates per probe; predicting zero scores {zero:.3f}. "
             "train_seconds depends on the shared CPU's load (load_1min per row)."]
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        notes.append(f"{name}: MSE " + ", ".join(
            f"{r['mean']:.4f} at k={r['settings']['k']}" for r in mine)
            + f" ({mine[0]['train_seconds']:.0f} s).")
    return notes


def plot(result: dict):
    """MSE against k, one line per probe (log scale), predicting zero dotted."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name in dict.fromkeys(r["method"] for r in result["rows"]):
        mine = [r for r in result["rows"] if r["method"] == name]
        ax.errorbar([r["settings"]["k"] for r in mine], [r["mean"] for r in mine],
                    yerr=[r["ci95"] for r in mine], marker="o", ms=3, capsize=2, label=name)
    ax.axhline(result["settings"]["predict_zero_mse"], color="k", ls=":", lw=0.8,
               label="predict zero")
    ax.set_yscale("log")
    ax.set_xlabel("support examples k")
    ax.set_ylabel("query MSE")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"sequence learner probes on {result['settings']['task']}, "
                 f"{result['settings']['steps']} updates each ({result['mode']} run)", fontsize=9)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """A table: one line per probe, MSE at each k, training seconds."""
    from benchmarks.readme import format_value

    rows = result["rows"]
    ks = list(dict.fromkeys(r["settings"]["k"] for r in rows))
    lines = ["| probe | changes | " + " | ".join(f"k={k}" for k in ks) + " | train s |",
             "|---" * (len(ks) + 3) + "|"]
    for name in dict.fromkeys(r["method"] for r in rows):
        by = {r["settings"]["k"]: r for r in rows if r["method"] == name}
        first = next(iter(by.values()))
        changes = ", ".join(f"{k}={v}" for k, v in first["changes"].items()) or "-"
        lines.append(f"| {name} | {changes} | " + " | ".join(
            format_value("mse", by[k]["mean"], by[k]["ci95"]) if k in by else "-" for k in ks)
            + f" | {first['train_seconds']:.0f} |")
    lines.append(f"\nPredicting zero: {result['settings']['predict_zero_mse']}.")
    return "\n".join(lines)
