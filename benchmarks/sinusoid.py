"""Sinusoid regression (MAML protocol): held-out MSE at 5, 10 and 20 shots, every method.

Tasks are `l2l.tasks.SinusoidTask` (amplitude in [0.1, 5], phase in [0, pi], x in [-5, 5];
Finn et al., 2017). Every trainable method is trained ONCE on ragged support sets,
`shots=(1, max)` with `max` the largest evaluated shot count (padding is masked out by every
method), so one model answers every shot count, for the same wall-clock budget
(`minutes_per_method`, learning rate cosine-annealed to zero over it) with Adam(1e-3). It is
then scored on stored test sets of `test_episodes` tasks per shot count (`eval_queries`
noise-free query points each): the same episodes for every method. A row is (method, shots,
test steps): mean MSE with its 95% interval over tasks, training seconds, median seconds per
meta-update, and `diverged_episodes` (episodes whose adapted MSE is not finite or above
`DIVERGED_MSE`; the mean is over the others, and the row's label says so: "MSE over
non-diverged (n = 908)"). Notes tell a diverging inner loop (episodes over `DIVERGED_MSE`, or a
mean MSE over `DIVERGING_FACTOR` times the predict-zero baseline) from a method that failed to
learn (mean MSE within `NO_LEARNING_BAND` of that baseline).

`METHODS` (name -> `Method`) holds three families:

- learners: the kinds of `l2l.presets.regression_model` (one forward pass adapts);
- algorithms: the gradient-based meta-learners of `l2l.algorithms` (MAML second and first
  order, Reptile, Meta-SGD, three ScaleAwareMAML variants) on the MAML paper's network
  (1 -> 40 -> 40 -> 1, ReLU), inner learning rate 0.01, compiled with XLA (on this CPU about
  1.6x faster per update than without it, at 3-18 s of compilation inside the budget). Each
  is scored with its own inner loop and again with `test_steps` (10) inner steps; MAML and the
  quadratic-prior variant also with 10 steps under the automatic stopping rule;
- the peer: `simplemaml` from PyPI (`pip install -e .[bench]`), a fixed number of eager
  meta-updates on the same network and tasks, its initialisation then adapted and scored by
  the same code as MAML's (1 and `test_steps` SGD steps). Skipped with a note if not installed.

Budget (default run, 2 shared CPU cores): 12 trainable methods x `minutes_per_method` (1.0)
minutes, plus about 40 s of simplemaml (40 updates of 25 tasks at ~0.6 s each) and 2-3 minutes
of compilation outside the budget, scoring and per-update timing: about 15 minutes. Not done:
several training seeds (one seed per run), per-shot models, noisy support targets.

The flagship (`sinusoid-flagship.json`): `film` (the grid's best) and `sequence` (the recurrent
learner, `sinusoid-recurrent.json`) trained 6 minutes each, with a learning curve on 200
stored validation tasks (disjoint from the test tasks):

    python -m benchmarks run sinusoid --tag flagship -o methods=sequence,film \
        -o minutes_per_method=6 -o val_episodes=200 -o steps_per_epoch=1000
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import (
    VALIDATION_SEED,
    PeakRSS,
    progress,
    row,
    stored_episodes,
    train_and_evaluate,
)
from benchmarks.published import SINUSOID_AUTHORS, SINUSOID_MSE

PUBLISHED = SINUSOID_MSE  # each algorithm's own published figures, by shots
PUBLISHED_BY = SINUSOID_AUTHORS
MAML_MSE = PUBLISHED["maml"]

PER_SHOT = {"maml": (0.949, 0.642), "fomaml": (1.083, 1.036), "reptile": (1.056, 0.453),
            "meta_sgd": (0.514, 0.321), "scale_rates": (0.639, 0.375),
            "scale_quadratic_decay": (0.597, 0.294), "scale_quartic": (0.740, 0.314),
            "simplemaml": (3.715, 3.685)}
"""5- and 10-shot MSE of the algorithms trained PER SHOT COUNT (own inner loop), from the former
standalone script (`benchmarks/standalone/results/sinusoid_algorithms.json` at commit 283f954:
2,000 meta-updates of 25 tasks, simplemaml 40; its own 2,000 test tasks of 100 queries), to
compare with this benchmark's training on ragged shots."""

DIVERGED_MSE = 1e4
DIVERGING_FACTOR = 2.0
"""A mean MSE above this multiple of predicting zero (about 4.3) is a diverging inner loop."""
INTERVAL = "student-t"
"""`settings["interval"]` of results whose 95% intervals use Student's t."""
NO_LEARNING_BAND = (0.75, 1.25)
"""A mean MSE within these multiples of predicting zero is no learning at all."""
"""An episode whose adapted MSE is not finite or above this has diverged: targets lie in
[-5, 5], so even predicting 0 errs by at most 25."""

AUTOSTOP_TOLERANCE = 1e-3
INSTALL_SIMPLEMAML = "pip install -e .[bench]"


@dataclasses.dataclass(frozen=True)
class Method:
    """One benchmarked method.

    family: "learner" (`build(width=, depth=)`), "algorithm" (`build(inner_learning_rate=,
    meta_learning_rate=, xla=, seed=)`) or "peer" (trained by its own loop, no `build`).
    autostop: also score with `test_steps` steps under the automatic stopping rule.
    """
    family: str
    build: Callable | None = None
    autostop: bool = False


def network(seed: int):
    """The MAML paper's sinusoid regressor: 1 -> 40 -> 40 -> 1, ReLU."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(40, activation="relu"),
                             keras.layers.Dense(40, activation="relu"), keras.layers.Dense(1)])


def _preset(kind: str) -> Method:
    def build(width: int = 64, depth: int = 2):
        from l2l.presets import regression_model

        return regression_model(kind, width=width, depth=depth)
    return Method("learner", build)


def algorithm(cls_name: str, autostop: bool = False, **options) -> Method:
    """An "algorithm" `Method`: `l2l.algorithms.<cls_name>(network(seed), **options)` compiled
    with Adam (`meta_learning_rate`, a number or a Keras schedule)."""
    def build(inner_learning_rate: float = 0.01, meta_learning_rate=1e-3,
              xla: bool = True, seed: int = 0):
        import keras

        import l2l.algorithms

        cls = getattr(l2l.algorithms, cls_name)
        model = cls(network(seed), inner_learning_rate=inner_learning_rate, **options)
        model.compile(keras.optimizers.Adam(meta_learning_rate), jit_compile=xla)
        return model
    return Method("algorithm", build, autostop)


METHODS: dict[str, Method] = {
    **{kind: _preset(kind) for kind in ("pooled", "attention", "sequence", "hyper", "film")},
    "maml": algorithm("MAML", autostop=True, inner_steps=1),
    "fomaml": algorithm("MAML", inner_steps=1, first_order=True),
    "reptile": algorithm("Reptile", inner_steps=5),
    "meta_sgd": algorithm("MetaSGD", inner_steps=1),
    "scale_rates": algorithm("ScaleAwareMAML", inner_steps=1, prior=None, scaled_rates=True),
    "scale_quadratic_decay": algorithm("ScaleAwareMAML", autostop=True, inner_steps=2,
                                        prior="quadratic", scaled_rates=True, decay_after=3.0),
    "scale_quartic": algorithm("ScaleAwareMAML", inner_steps=2, prior="quartic",
                                scaled_rates=True),
    "simplemaml": Method("peer"),
}
"""Method name -> `Method`. Adding a method is adding an entry; any other model kind
registered for regression (`l2l.presets.register_kind`) is a "learner" method too."""


def find_method(name: str) -> Method | None:
    """`METHODS[name]`, a registered regression kind (a user's included), or None."""
    from l2l.kinds import names

    if name in METHODS:
        return METHODS[name]
    return _preset(name) if name in names("regression") else None


def run(quick: bool = False, seed: int = 0, *, methods: tuple[str, ...] | None = None,
        shots: tuple[int, ...] = (5, 10, 20), minutes_per_method: float | None = None,
        steps_per_epoch: int | None = None, batch_size: int | None = None,
        meta_batch_size: int | None = None, train_queries: int = 10, eval_queries: int = 50,
        test_episodes: int | None = None, width: int | None = None, depth: int = 2,
        inner_learning_rate: float = 0.01, meta_learning_rate: float = 1e-3,
        test_steps: int = 10, xla: bool | None = None, simplemaml_updates: int | None = None,
        simplemaml_meta_learning_rate: float = 0.01, curve_shots: int | None = None,
        val_episodes: int = 0) -> dict:
    """Train each method once on ragged shots, score it at every shot count.

    With `curve_shots`, every learner is also scored with the first k = 1..`curve_shots`
    examples of one stored `curve_shots`-shot test set (its row at the largest shot count
    carries the curve as `curve`: k, mean, ci95), and training covers 1..`curve_shots` shots
    when that is more than the largest shot count.

    With `val_episodes`, every method is validated after each epoch of `steps_per_epoch`
    steps on that many stored `min(shots)`-shot episodes (seed `VALIDATION_SEED`, disjoint
    from the test set; not counted in the budget), and its rows carry the learning curve
    `val_curve` (validation MSE per epoch).
    """
    import keras

    from l2l.evaluation import mean_ci95, per_episode_mse
    from l2l.tasks import SinusoidTask

    methods = methods or (("pooled", "maml", "simplemaml") if quick else tuple(METHODS))
    unknown = [m for m in methods if find_method(m) is None]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {sorted(METHODS)} or a "
                         "model kind registered with l2l.presets.register_kind.")
    if not shots or min(shots) < 1:
        raise ValueError(f"shots must be positive shot counts, got {shots!r}.")
    minutes = minutes_per_method if minutes_per_method is not None else (0.03 if quick else 1.0)
    steps = steps_per_epoch or (5 if quick else 100)
    batch_size = batch_size or (8 if quick else 32)
    meta_batch_size = meta_batch_size or (8 if quick else 25)
    n_test = test_episodes or (50 if quick else 1000)
    width = width or (16 if quick else 64)
    xla = (not quick) if xla is None else xla
    simplemaml_updates = simplemaml_updates or (1 if quick else 40)
    if curve_shots is not None and curve_shots < 1:
        raise ValueError(f"curve_shots must be a positive shot count, got {curve_shots!r}.")
    if not isinstance(val_episodes, int) or val_episodes < 0:
        raise ValueError(f"val_episodes must be a number of episodes >= 0, got "
                         f"{val_episodes!r}.")
    max_shots = max(shots + (curve_shots or 0,))

    tests = {k: stored_episodes(SinusoidTask(shots=k, queries=eval_queries),
                                f"sinusoid-{k}shot-q{eval_queries}", n_test, "test")
             for k in shots}
    zero = {k: round(mean_ci95(per_episode_mse(np.zeros_like(t.query_y), t.query_y))[0], 4)
            for k, t in tests.items()}
    curve_test = None if curve_shots is None else stored_episodes(
        SinusoidTask(shots=curve_shots, queries=eval_queries),
        f"sinusoid-{curve_shots}shot-q{eval_queries}", n_test, "test")
    val = None if not val_episodes else stored_episodes(
        SinusoidTask(shots=min(shots), queries=eval_queries),
        f"sinusoid-{min(shots)}shot-q{eval_queries}", val_episodes, "val", seed=VALIDATION_SEED)
    train = SinusoidTask(shots=(1, max_shots), queries=train_queries)
    rows, notes = [], []
    progress.plan(len(methods))
    for name in methods:
        progress.cell(name)
        method = find_method(name)
        keras.utils.set_random_seed(seed)
        if method.family == "peer":
            rows += _run_simplemaml(train, tests, notes, seed=seed, batch_size=meta_batch_size,
                                    updates=simplemaml_updates, test_steps=test_steps,
                                    inner_learning_rate=inner_learning_rate,
                                    meta_learning_rate=simplemaml_meta_learning_rate)
            keras.backend.clear_session()
            continue
        learner = method.family == "learner"
        size = batch_size if learner else meta_batch_size
        with PeakRSS() as memory:
            if learner:
                model = method.build(width=width, depth=depth)
            else:
                model = method.build(inner_learning_rate=inner_learning_rate,
                                     meta_learning_rate=meta_learning_rate, xla=xla, seed=seed)
            # Scored below by `score`, which also counts diverged episodes.
            out = train_and_evaluate(model, train.dataset(size, seed=seed), None,
                                     minutes=minutes, steps_per_epoch=steps, metric="mse",
                                     anneal=True, validation=val,
                                     monitor="val_loss")  # the loss is the MSE
            variants = [{}] if learner else (
                [{}, {"test_steps": test_steps}]
                + ([{"test_steps": test_steps, "stop_tolerance": AUTOSTOP_TOLERANCE}]
                   if method.autostop else []))
            scored = []
            for changes in variants:
                # Algorithms are scored by an uncompiled copy (no XLA for a few predictions).
                scorer = model if learner else model.with_options(**changes)
                scored.append((scorer, {k: score(scorer, tests[k]) for k in shots}))
            curve = None if curve_test is None or not learner else mse_curve(model, curve_test)
            update = seconds_per_update(model, train.episodes(size, seed=seed + 1))
        common = {"family": method.family, "steps": out["steps"],
                  "episodes_trained": out["steps"] * size, "seconds_per_update": update,
                  "seconds_per_update_incl_tracing": round(out["train_seconds"] / out["steps"],
                                                           5)}
        if val is not None:
            common["val_curve"] = out["val_curve"]
        if not learner:
            common["config"] = _algorithm_config(model)
        for scorer, scores in scored:
            for k in shots:
                settings = {"shots": k} if learner else {
                    "shots": k, "test_steps": scorer.test_steps,
                    "stop_tolerance": scorer.stop_tolerance}
                own_loop = learner or scorer.test_steps == model.test_steps
                extra = {"curve": curve} if curve is not None and k == max(shots) else {}
                rows += _row(name, scores[k], settings, seed, memory, out["train_seconds"],
                             notes, published=PUBLISHED.get(name, {}).get(k) if own_loop else None,
                             **common, **extra)
        keras.backend.clear_session()
    settings = {
        "methods": methods, "shots": shots, "train_shots": [1, max_shots], "interval": INTERVAL,
        "training": "one model per method on ragged shots 1..max(shots), scored at each shot "
                    "count", "minutes_per_method": minutes, "steps_per_epoch": steps,
        "batch_size": batch_size, "meta_batch_size": meta_batch_size,
        "train_queries": train_queries, "eval_queries": eval_queries, "test_episodes": n_test,
        "width": width, "depth": depth, "learning_rate": meta_learning_rate,
        "curve_shots": curve_shots, "val_episodes": val_episodes,
        "val_shots": min(shots) if val_episodes else None,
        "lr_schedule": "cosine to zero over the time budget", "maml_mse": MAML_MSE,
        "published_mse": PUBLISHED, "baseline_zero_mse": zero,
        "algorithms": {"network": "1-40-40-1 ReLU", "inner_learning_rate": inner_learning_rate,
                       "meta_optimizer": f"Adam({meta_learning_rate})", "xla": xla,
                       "test_steps": test_steps, "autostop_tolerance": AUTOSTOP_TOLERANCE},
        "simplemaml": {"updates": simplemaml_updates, "tasks_per_update": meta_batch_size,
                       "meta_learning_rate (alpha, SGD)": simplemaml_meta_learning_rate,
                       "inner_learning_rate (beta)": inner_learning_rate}}
    return {"rows": rows, "settings": settings,
            "notes": _notes(rows, minutes, zero) + notes}


def score(model, test) -> dict:
    """MSE of `model` on `test`: mean and 95% interval over the episodes whose adaptation did
    not diverge (MSE finite and at most `DIVERGED_MSE`), with `diverged_episodes` counting the
    others (`episodes_scored` is all)."""
    from l2l.evaluation import mean_ci95, per_episode_mse

    predictions = model.predict(test.inputs(), batch_size=250, verbose=0)
    with np.errstate(invalid="ignore", over="ignore"):
        mse = per_episode_mse(predictions, test.query_y)
    finite = np.isfinite(mse) & (mse <= DIVERGED_MSE)
    mean, ci95 = mean_ci95(mse[finite]) if finite.any() else (None, None)
    return {"mean": mean, "ci95": ci95, "episodes": int(finite.sum()),
            "episodes_scored": int(mse.size), "diverged_episodes": int((~finite).sum())}


def mse_curve(model, test) -> dict:
    """`{"k", "mean", "ci95"}`: MSE on `test` with its first k support examples, every k."""
    ks = list(range(1, test.support_x.shape[1] + 1))
    scored = [score(model, test.first_support(k)) for k in ks]
    return {"k": ks, "mean": [s["mean"] for s in scored], "ci95": [s["ci95"] for s in scored]}


def _row(name: str, scored: dict, settings: dict, seed: int, memory, train_seconds: float,
         notes: list, published: float | None = None, **extra) -> list[dict]:
    """The row of one (method, settings), or none (and a note) if every episode diverged."""
    if scored["mean"] is None:
        notes.append(f"{name} {settings}: adaptation diverged on all {scored['diverged_episodes']} "
                     "episodes, so there is no MSE and no row.")
        return []
    k = settings["shots"]
    mean, ci95 = scored["mean"], scored["ci95"]
    return [row(name, "mse", mean, ci95=ci95, episodes=scored["episodes"],
                train_seconds=train_seconds, memory=memory, seed=seed, settings=settings,
                episodes_scored=scored["episodes_scored"],
                diverged_episodes=scored["diverged_episodes"], **extra,
                maml_mse=MAML_MSE.get(k), published_mse=published, **_beats(mean, ci95, k,
                                                                             published))]


def _beats(mean: float, ci95: float, shots: int, published: float | None) -> dict:
    """Whether the whole interval lies below MAML's and the method's own published MSE."""
    return {"beats_maml": None if shots not in MAML_MSE else bool(mean + ci95 < MAML_MSE[shots]),
            "beats_published": None if published is None else bool(mean + ci95 < published)}


def mse_label(r: dict) -> str:
    """"MSE 0.458 +- 0.048", or "MSE over non-diverged (n = 908) 12.987 +- 8.947"."""
    over = (f" over non-diverged (n = {r['episodes']})" if r.get("diverged_episodes") else "")
    return f"MSE{over} {r['mean']:.3f} +- {r['ci95']:.3f}"


def recompute(result: dict) -> dict:
    """Intervals (Student's t), verdicts and notes recomputed from the stored rows (no run).

    The rows keep no per-episode MSEs, but a 1.96-based half-width rescales exactly to
    Student's t over the same episodes; `settings["interval"]` records that this was done, so
    running it twice changes nothing.
    """
    from l2l.evaluation import t_quantile

    rows, settings = result["rows"], result["settings"]
    if settings.get("interval") != INTERVAL:
        for r in rows:
            if r["ci95"] is not None and r["episodes"] > 1:
                r["ci95"] *= t_quantile(0.975, r["episodes"] - 1) / 1.959963984540054
        settings["interval"] = INTERVAL
    for r in rows:
        r.update(_beats(r["mean"], r["ci95"], r["settings"]["shots"], r["published_mse"]))
    labels = {label(r) for r in rows}
    generated = ("One seed,", "Published figures", "Adaptation diverged (MSE",
                 *(f"{label(r)} by support examples seen" for r in rows),
                 "Trained on ragged", "Failed to learn", "Diverging inner loop")
    kept = [n for n in result["notes"]
            if not n.startswith(generated) and n.split(": ")[0] not in labels]
    zero = {int(k): v for k, v in settings["baseline_zero_mse"].items()}
    result["notes"] = _notes(rows, settings["minutes_per_method"], zero) + kept
    return result



def _algorithm_config(model) -> dict:
    return {k: v for k, v in model.get_config().items()
            if k not in ("model", "name", "trainable", "dtype", "loss")}


def seconds_per_update(model, batch, repeats: int = 20) -> float:
    """Median seconds of one `train_on_batch` update on `batch` (after one warm-up update).

    Measured after scoring, so it changes nothing that is reported; excludes data generation
    and the first step's tracing, which `seconds_per_update_incl_tracing` includes.
    """
    inputs, targets = batch.as_fit_data()
    model.train_on_batch(inputs, targets)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.train_on_batch(inputs, targets)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)), 6)


def _run_simplemaml(train, tests: dict, notes: list, *, seed: int, batch_size: int,
                    updates: int, test_steps: int, inner_learning_rate: float,
                    meta_learning_rate: float) -> list[dict]:
    """The PyPI `simplemaml` peer: `updates` meta-updates of `batch_size` ragged tasks on the
    MAML network, then adapted by l2l's MAML scorer (plain SGD steps) and scored like MAML."""
    try:
        import simplemaml  # a benchmark-only dependency
    except ImportError:
        notes.append(f"simplemaml is not installed, so it was skipped: `{INSTALL_SIMPLEMAML}` "
                     "installs it (the `bench` extra).")
        return []
    from importlib.metadata import version

    import keras

    from l2l.algorithms import MAML

    random.seed(seed)
    episodes = train.episodes(updates * batch_size, seed=seed)
    counts = episodes.support_mask.sum(axis=1).astype(int)
    tasks = [{"train": {"inputs": episodes.support_x[i, :n], "target": episodes.support_y[i, :n]},
              "test": {"inputs": episodes.query_x[i], "target": episodes.query_y[i]}}
             for i, n in enumerate(counts)]

    def meta_train(net, epochs):
        with open(os.devnull, "w") as quiet, _keras3_tape_shim(), \
                contextlib.redirect_stdout(quiet):
            net, _ = simplemaml.MAML(
                net, alpha=meta_learning_rate, beta=inner_learning_rate,
                optimizer=keras.optimizers.SGD, meta_epochs=epochs,
                meta_tasks_per_epoch=[batch_size, batch_size], tasks=tasks)
        return net

    shots = list(tests)
    with PeakRSS() as memory:
        start = time.perf_counter()
        net = meta_train(network(seed), updates)
        seconds = time.perf_counter() - start
        scorer = MAML(net, inner_steps=1, inner_learning_rate=inner_learning_rate)
        scored = [(steps, {k: score(scorer.with_options(test_steps=steps), tests[k])
                           for k in shots}) for steps in (1, test_steps)]
        times = []
        for _ in range(3):  # after scoring: single-update calls, timed one by one
            begin = time.perf_counter()
            net = meta_train(net, 1)
            times.append(time.perf_counter() - begin)
    extra = {"family": "peer", "steps": updates, "episodes_trained": updates * batch_size,
             "seconds_per_update": round(float(np.median(times)), 6),
             "seconds_per_update_incl_tracing": round(seconds / updates, 5),
             "config": {"simplemaml": version("simplemaml"), "updates": updates,
                        "how": "simplemaml.MAML(model, tasks=[{train, test}] per task, SGD inner "
                               "and outer, meta_tasks_per_epoch=[B, B]); its model is then "
                               "adapted by l2l's MAML scorer with plain SGD steps. As "
                               "published, simplemaml resets its task copy once per "
                               "meta-update, not per task, and is first order. simplemaml "
                               "1.2.13 calls GradientTape.watch on Keras 3 variables, which TF "
                               "2.21 rejects; the benchmark unwraps them to their tf.Variable "
                               "for that call (_keras3_tape_shim) and changes nothing else. "
                               "seconds_per_update: median of 3 single-update calls (each "
                               "clones the model, as simplemaml does per call)."}}
    rows = []
    for steps, scores in scored:
        for k in shots:
            rows += _row("simplemaml", scores[k], {"shots": k, "test_steps": steps,
                                                   "stop_tolerance": None},
                         seed, memory, seconds, notes, **extra)
    return rows


@contextlib.contextmanager
def _keras3_tape_shim():
    """Let `tf.GradientTape.watch` accept Keras 3 variables (simplemaml targets tf.keras 2)."""
    import keras
    import tensorflow as tf

    original = tf.GradientTape.watch

    def watch(tape, tensor):
        unwrap = [v.value if isinstance(v, keras.Variable) else v for v in tf.nest.flatten(tensor)]
        return original(tape, unwrap)

    tf.GradientTape.watch = watch
    try:
        yield
    finally:
        tf.GradientTape.watch = original


def label(r: dict) -> str:
    """`maml`, `maml, 10 steps`, `maml, 10 steps, auto-stop`: a method with its test loop."""
    settings = r["settings"]
    steps = settings.get("test_steps")
    if steps is None:
        return r["method"]
    own = (r.get("config") or {}).get("test_steps")
    if r["method"] == "simplemaml":
        own = 1
    text = r["method"] if steps == own and settings.get("stop_tolerance") is None else (
        f"{r['method']}, {steps} steps")
    return text + (", auto-stop" if settings.get("stop_tolerance") is not None else "")


def _published_figures() -> str:
    """`MAML 1.13/0.77, Meta-SGD 0.90/0.53`: the published MSEs at 5 and 10 shots."""
    return ", ".join(f"{PUBLISHED_BY[m]} {f[5]:.2f}/{f[10]:.2f}" for m, f in PUBLISHED.items())


def _notes(rows: list[dict], minutes: float, zero: dict[int, float]) -> list[str]:
    """The notes made from the rows; `zero` is the predict-zero MSE per shot count."""
    notes = [f"One seed, {minutes:g} training minutes per trainable method (simplemaml: a "
             "fixed number of updates) on a shared 2-core CPU (see load_1min per row). "
             "seconds_per_update: median of 20 train_on_batch updates after training; "
             "seconds_per_update_incl_tracing: training time / updates.",
             f"Published figures ({_published_figures()} at 5/10 shots) are quoted "
             "from the papers, not re-run: 70,000 meta-updates of 25 tasks, each trained per "
             "shot count, so 'beats' compares results on the same task distribution and "
             "metric, not equal compute."]
    for r in rows:
        if r.get("curve"):
            by = dict(zip(r["curve"]["k"], r["curve"]["mean"], strict=True))
            notes.append(f"{label(r)} by support examples seen (one stored "
                         f"{max(by)}-shot test set cut to its first k): MSE " + ", ".join(
                             f"{by[k]:.3f} at k={k}" for k in (1, 2, 5, 10, 20, 35, 50)
                             if k in by) + ".")
    diverged = [f"{label(r)}: {r['settings']['shots']}-shot {mse_label(r)} "
                f"({r['diverged_episodes']} of {r['episodes_scored']} diverged)"
                for r in rows if r["diverged_episodes"]]
    if diverged:
        notes.append(f"Adaptation diverged (MSE not finite or above {DIVERGED_MSE:g}) on some "
                     "episodes; those rows' MSE is over the non-diverged episodes only (their "
                     "n is in the row's label and table cell): " + ", ".join(diverged) + ".")
    ragged, much_worse = [], []
    for r in rows:
        k, per_shot = r["settings"]["shots"], PER_SHOT.get(r["method"])
        if per_shot and k in (5, 10) and label(r) == r["method"]:
            ragged.append(f"{r['method']} {k}-shot {r['mean']:.3f} vs {per_shot[k // 5 - 1]}")
            if r["mean"] > 1.5 * per_shot[k // 5 - 1]:
                much_worse.append(f"{r['method']} {k}-shot")
    if ragged:
        notes.append("Trained on ragged shots (this run, own inner loop) vs trained per shot count "
                     "(PER_SHOT: the former standalone script, 2,000 updates): "
                     + ", ".join(ragged) + "." + (
                         " More than 1.5x worse on ragged shots: " + ", ".join(much_worse) + "."
                         if much_worse else ""))
    diverging = sorted({label(r) for r in rows if r["diverged_episodes"]
                        or r["mean"] > DIVERGING_FACTOR * zero[r["settings"]["shots"]]})
    low, high = NO_LEARNING_BAND
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(label(r), []).append(r)
    failed = sorted(name for name, group in by_label.items() if name not in diverging and all(
        low <= r["mean"] / zero[r["settings"]["shots"]] <= high for r in group))
    baseline = f"{min(zero.values()):.1f}-{max(zero.values()):.1f}"
    if diverging:
        notes.append(f"Diverging inner loop (episodes with MSE above {DIVERGED_MSE:g}, or a mean "
                     f"MSE over {DIVERGING_FACTOR:g}x the predict-zero baseline of {baseline}): "
                     f"{'; '.join(diverging)}.")
    if failed:
        notes.append(f"Failed to learn (MSE within {low:g}-{high:g}x the predict-zero baseline "
                     f"of {baseline} at every shot count): {'; '.join(failed)}.")
    return notes


def published_verdict(r: dict, figure: float) -> str:
    """Row `r`'s MSE against a published figure: "beats" when its whole 95% interval is below
    it, "within" when the interval holds it, else "does not beat"."""
    if r["mean"] + r["ci95"] < figure:
        return "beats"
    return "within" if r["mean"] - r["ci95"] <= figure else "does not beat"


def plot(result: dict):
    """Test MSE (95% CI) per method and shot count, with MAML's published figures."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    labels = list(dict.fromkeys(label(r) for r in rows))
    shots = list(dict.fromkeys(r["settings"]["shots"] for r in rows))
    width = 0.8 / len(shots)
    curves = [r for r in rows if r.get("curve")]
    learning = list({label(r): r for r in rows if r.get("val_curve")}.values())
    width_in = max(7, 0.45 * len(labels) + 2)
    sides = [(panel, rs) for panel, rs in ((_plot_curves, curves), (_plot_learning, learning))
             if rs]
    fig, axes = plt.subplots(1, 1 + len(sides), figsize=(width_in + 5 * len(sides), 4.2),
                             gridspec_kw={"width_ratios": [width_in] + [5] * len(sides)},
                             squeeze=False)
    ax = axes[0, 0]
    for side, (panel, panel_rows) in zip(axes[0, 1:], sides, strict=True):
        # a side panel: MSE against the examples seen (1..curve_shots), or the learning curve
        panel(side, panel_rows, result)
    x = np.arange(len(labels))
    for i, k in enumerate(shots):
        by = {label(r): r for r in rows if r["settings"]["shots"] == k}
        present = [j for j, m in enumerate(labels) if m in by]
        ax.bar(x[present] - 0.4 + width * (i + 0.5), [by[labels[j]]["mean"] for j in present],
               width, yerr=[by[labels[j]]["ci95"] for j in present], capsize=2,
               label=f"{k} shots")
        if k in MAML_MSE:
            ax.axhline(MAML_MSE[k], color=f"C{i}", ls="--", lw=0.9,
                       label=f"MAML published, {k} shots ({MAML_MSE[k]})")
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax.set_yscale("log")  # from learners' ~0.03 to diverging inner loops' tens
    ax.set_ylabel(f"test MSE ({result['settings']['test_episodes']:,} tasks, log scale)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    minutes = result["settings"]["minutes_per_method"]
    ax.set_title(f"sinusoid regression, {minutes:g} training minutes per method "
                 f"({result['mode']} run)", fontsize=9)
    fig.tight_layout()
    return fig


def _plot_learning(ax, rows: list[dict], result: dict) -> None:
    """Validation MSE after each epoch of training, one line per method (the learning curve)."""
    settings = result["settings"]
    for r in rows:
        steps = settings["steps_per_epoch"] * np.arange(1, len(r["val_curve"]) + 1)
        ax.plot(steps, r["val_curve"], label=f"{label(r)} ({r['steps']:,} steps)")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(lambda steps, _: f"{steps / 1000:g}k")
    ax.set_xlabel("training steps")
    ax.set_ylabel(f"validation MSE ({settings['val_episodes']:,} {settings['val_shots']}-shot "
                  "tasks)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("learning curve", fontsize=9)


def _plot_curves(ax, curves: list[dict], result: dict) -> None:
    """MSE (95% band) against the number of support examples seen, one line per method."""
    for r in curves:
        k, mean, ci = (np.array(r["curve"][key], dtype=float) for key in ("k", "mean", "ci95"))
        line, = ax.plot(k, mean, label=label(r))
        ax.fill_between(k, np.maximum(mean - ci, 1e-6), mean + ci, alpha=0.2,
                        color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("support examples seen k")
    ax.set_ylabel("test MSE")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title(f"MSE by examples seen (1..{result['settings']['curve_shots']})", fontsize=9)


def summarize(result: dict) -> str:
    """A table: one line per method and test loop, one column per shot count, and one column
    with the method's verdict against the published figures (`published_verdict`; MAML's for
    every method, an algorithm's own paper's too, for the shot counts papers report)."""
    from benchmarks.readme import format_value

    rows = result["rows"]
    shots = list(dict.fromkeys(r["settings"]["shots"] for r in rows))
    quoted = [k for k in shots if k in MAML_MSE]
    against = " / ".join(f"{MAML_MSE[k]}" for k in quoted)
    lines = ["| method | " + " | ".join(f"MSE {k}-shot" for k in shots)
             + f" | vs published {'/'.join(map(str, quoted))}-shot (MAML: {against}) "
               "| train s | s/update | diverged (excluded) |", "|---" * (len(shots) + 5) + "|"]
    for name in dict.fromkeys(label(r) for r in rows):
        by = {r["settings"]["shots"]: r for r in rows if label(r) == name}
        first = next(iter(by.values()))
        cells = [(format_value("mse", by[k]["mean"], by[k]["ci95"]) + (
                     f" over non-diverged (n = {by[k]['episodes']})"
                     if by[k]["diverged_episodes"] else "")) if k in by else "all diverged"
                 for k in shots]
        diverged = " / ".join(str(by[k]["diverged_episodes"]) if k in by else "all"
                              for k in shots)
        verdicts = "MAML: " + " / ".join(
            published_verdict(by[k], MAML_MSE[k]) if k in by else "-" for k in quoted)
        own = {k: by[k]["published_mse"] for k in quoted
               if k in by and by[k].get("published_mse") is not None}
        if own and first["method"] != "maml":
            verdicts += (f"; {PUBLISHED_BY[first['method']]} "
                         f"({' / '.join(str(v) for v in own.values())}): "
                         + " / ".join(published_verdict(by[k], v) for k, v in own.items()))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {verdicts}"
                     + f" | {first['train_seconds']:.0f} | {first['seconds_per_update']:.4f} "
                       f"| {diverged} |")
    for method, figures in PUBLISHED.items():
        lines.append(f"| {method} (published) | "
                     + " | ".join(str(figures.get(k, "-")) for k in shots) + " | | | | |")
    return "\n".join(lines)

