"""Safe extrapolation of learned inner loops: Meta-SGD and a scale variant run for 10 steps.

Meta-SGD (trained with one inner step) and `scale_quartic` (ScaleAwareMAML, quartic prior and
scaled rates, trained with two) are built and trained exactly as in the `sinusoid` benchmark
(ragged 1-10 shots, `minutes_per_method` each, XLA), then scored on its stored test tasks
(`sinusoid-{k}shot-q50`, 5 and 10 shots) with their own loop, with 10 inner steps, and with
10 inner steps under `safe_steps=True` (`l2l.algorithms.safeguard`: a step that raises an
episode's support loss is undone and that episode's step size halved). A row is the mean
query MSE over non-diverged tasks with its 95% interval, and the number of diverged tasks
(MSE not finite or above `sinusoid.DIVERGED_MSE`), as in `sinusoid`.

Budget: 2 x 1 training minute plus scoring 1,000 tasks x 2 shot counts x 3 loops: about
5 minutes on 2 idle CPU cores. Not done: several seeds, the other scale variants.
"""

from __future__ import annotations

from benchmarks.common import PeakRSS, row, stored_episodes, train_and_evaluate


def run(quick: bool = False, seed: int = 0, *, methods: tuple[str, ...] = (
        "meta_sgd", "scale_quartic"), shots: tuple[int, ...] = (5, 10),
        minutes_per_method: float | None = None, test_episodes: int | None = None,
        test_steps: int = 10) -> dict:
    """Train each method, score its own loop, `test_steps` steps, and safe `test_steps`."""
    import keras

    from benchmarks import sinusoid
    from l2l.tasks import SinusoidTask

    minutes = minutes_per_method if minutes_per_method is not None else (
        0.01 if quick else 1.0)
    n_test = test_episodes or (20 if quick else 1000)
    tests = {k: stored_episodes(SinusoidTask(shots=k, queries=50), f"sinusoid-{k}shot-q50",
                                n_test, "test") for k in shots}
    train = SinusoidTask(shots=(1, 10), queries=10)
    rows, notes = [], []
    for name in methods:
        keras.utils.set_random_seed(seed)
        with PeakRSS() as memory:
            model = sinusoid.METHODS[name].build(xla=not quick, seed=seed)
            out = train_and_evaluate(model, train.dataset(4 if quick else 25, seed=seed), None,
                                     minutes=minutes, steps_per_epoch=5 if quick else 100,
                                     metric="mse", anneal=True)
            for changes in ({}, {"test_steps": test_steps},
                            {"test_steps": test_steps, "safe_steps": True}):
                scorer = model.with_options(**changes)
                for k in shots:
                    scored = sinusoid.score(scorer, tests[k])
                    settings = {"shots": k, "test_steps": scorer.test_steps,
                                "safe_steps": scorer.safe_steps}
                    if scored["mean"] is None:
                        notes.append(f"{name} {settings}: every episode diverged.")
                        continue
                    rows.append(row(name, "mse", scored["mean"], ci95=scored["ci95"],
                                    episodes=scored["episodes"], memory=memory, seed=seed,
                                    train_seconds=out["train_seconds"], settings=settings,
                                    steps=out["steps"],
                                    episodes_scored=scored["episodes_scored"],
                                    diverged_episodes=scored["diverged_episodes"]))
        keras.backend.clear_session()
    for r in rows:
        s = r["settings"]
        notes.append(f"{r['method']}, {s['shots']} shots, {s['test_steps']} steps"
                     f"{' (safe)' if s['safe_steps'] else ''}: MSE {r['mean']:.3f} +- "
                     f"{r['ci95']:.3f}, diverged {r['diverged_episodes']}/"
                     f"{r['episodes_scored']}.")
    return {"rows": rows, "notes": notes,
            "settings": {"methods": methods, "shots": shots, "minutes_per_method": minutes,
                         "test_episodes": n_test, "test_steps": test_steps,
                         "training": "as benchmarks/sinusoid.py (ragged 1-10 shots)"}}
