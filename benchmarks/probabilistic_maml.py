"""Probabilistic MAML (ABML) vs MAML with a fixed noise model: sinusoid predictive likelihood.

Both are trained once on ragged sinusoid support sets (1 to 10 shots, 10 queries), for the
same wall-clock budget each (`minutes_per_method`, Adam(1e-3) cosine-annealed over it), on the
sinusoid benchmark's network (1-40-40-1 ReLU), without XLA; MAML takes one inner step of
0.01, ABML's inner loop is set by the `abml_*` options (its constructor's, kept in
`settings["abml"]`):

- `maml`: second-order MAML. Its predictive distribution is `N(f(x), sigma_k^2)` with one
  fixed noise level per shot count `k`, set to the root mean squared query error on
  `calibration_episodes` fresh tasks of the training distribution (never the test tasks):
  the best fixed Gaussian noise model MAML can have.
- `abml`: `l2l.algorithms.ABML` (learned prior over all weights, Gaussian posterior per task,
  learned noise); its predictive distribution is the mixture over `samples` posterior draws.

Scored on the sinusoid benchmark's stored test tasks (`sinusoid-{k}shot-q50`, the same
episode store) at 1, 2 and 5 shots: mean log density per query point (higher is better),
coverage of the central 95% predictive interval (0.95 is calibrated) and the MSE of the point
prediction (posterior-mean network for ABML), each with a 95% interval over tasks, and
`function_spread`, the mean standard deviation of the sampled functions at a query point
(0 for MAML): a posterior that contracts with data has less spread at more shots. ABML's
rows carry `vs_maml`, the paired difference of per-task log-likelihood against MAML over the
same tasks, with its 95% interval. The picture shows sampled functions for one task per shot
count.

ABML with plain inner steps (the paper's, `-o abml_inner_update=sgd`) hardly adapts; with the
linearised network's closed-form update it beats MAML at every shot count
(`probabilistic_maml-gauss_newton.json`), so that update is this benchmark's default:

    python -m benchmarks run probabilistic_maml --tag gauss_newton -o minutes_per_method=4 \
        -o abml_inner_update=gauss_newton

Runs whose `settings["abml"]` has no `inner_update` (`--tag inner_lr_0_1`, `--tag
probe_rates1`) come from before that option existed and took plain steps: re-run them with
`-o abml_inner_update=sgd` added. Their ABML scores -1.71 nats at 5 shots (-4.28 at
`inner_learning_rate=0.1`); the Gauss-Newton update scores -0.92 (`gauss_newton`) and -0.98
(the untagged run) there.

Budget (full run): 2 x 2 training minutes, plus scoring 500 tasks x 3 shot counts (ABML:
`samples` draws each), about 8 minutes on 2 idle CPU cores. Not done: several seeds, longer
training, PLATIPUS side by side.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import (
    PeakRSS,
    paired_difference,
    row,
    stored_episodes,
    train_and_evaluate,
    verdict_verb,
)

PICTURE_TASKS = ((3.0, 0.5), (1.5, 2.0), (4.0, 1.2))
"""(amplitude, phase) of the task drawn for each shot count in the picture."""


def _train(name: str, minutes: float, seed: int, batch: int, steps: int, abml: dict):
    import keras

    from benchmarks.sinusoid import network
    from l2l.algorithms import ABML, MAML
    from l2l.tasks import SinusoidTask

    if name == "maml":
        model = MAML(network(seed), inner_steps=1, inner_learning_rate=0.01)
    else:
        model = ABML(network(seed), seed=seed, **abml)
    model.compile(keras.optimizers.Adam(1e-3))
    out = train_and_evaluate(model, SinusoidTask(shots=(1, 10), queries=10).dataset(
        batch, seed=seed), None, minutes=minutes, steps_per_epoch=steps, metric="mse",
        anneal=True)
    return model, out


def _predictive(name, model, episodes, samples: int, noise: float | None, chunk: int = 100):
    """`(function samples [S, B, Q, 1], noise std)` of a method on `episodes`."""
    if name == "maml":
        return model.predict(episodes.inputs(), batch_size=chunk, verbose=0)[None], noise
    parts = [model.sample_functions(episodes[i:i + chunk].inputs(), samples=samples, seed=0)
             for i in range(0, len(episodes.support_x), chunk)]
    return np.concatenate(parts, axis=1), model.noise_std()


def run(quick: bool = False, seed: int = 0, *, shots: tuple[int, ...] = (1, 2, 5),
        minutes_per_method: float | None = None, test_episodes: int | None = None,
        calibration_episodes: int | None = None, samples: int | None = None,
        meta_batch_size: int | None = None, abml_inner_learning_rate: float = 0.01,
        abml_inner_steps: int = 1, abml_learn_inner_rates: bool = False,
        abml_init_std: float = 0.02, abml_init_noise: float = 0.5,
        abml_kl_weight: float = 1.0, abml_inner_update: str = "gauss_newton",
        methods: tuple[str, ...] = ("maml", "abml")) -> dict:
    """Train MAML and ABML, score predictive likelihood and coverage at each shot count.

    The `abml_*` options are ABML's constructor arguments (`l2l.algorithms.ABML`); `methods`
    picks which of the two to run (a probe of ABML's options alone)."""
    import keras

    from l2l.algorithms.bayesian import mixture_coverage, mixture_log_likelihood
    from l2l.evaluation import mean_ci95
    from l2l.tasks import SinusoidTask

    minutes = minutes_per_method if minutes_per_method is not None else (
        0.02 if quick else 2.0)
    n_test = test_episodes or (20 if quick else 500)
    n_cal = calibration_episodes or (20 if quick else 200)
    samples = samples or (4 if quick else 20)
    batch = meta_batch_size or (4 if quick else 25)
    abml = {"inner_learning_rate": abml_inner_learning_rate, "inner_steps": abml_inner_steps,
            "learn_inner_rates": abml_learn_inner_rates, "init_std": abml_init_std,
            "init_noise": abml_init_noise, "kl_weight": abml_kl_weight,
            "inner_update": abml_inner_update}
    tests = {k: stored_episodes(SinusoidTask(shots=k, queries=50), f"sinusoid-{k}shot-q50",
                                n_test, "test") for k in shots}
    rows, pictures, noise_levels, per_task = [], {}, {}, {}
    grid = np.linspace(-5, 5, 100, dtype="float32")
    unknown = sorted(set(methods) - {"maml", "abml"})
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from ('maml', 'abml').")
    for name in methods:
        keras.utils.set_random_seed(seed)
        with PeakRSS() as memory:
            model, out = _train(name, minutes, seed, batch, 5 if quick else 50, abml)
            for k in shots:
                noise = None
                if name == "maml":
                    calibration = SinusoidTask(shots=k, queries=50).episodes(
                        n_cal, seed=10_000 + seed)
                    errors = model.predict(calibration.inputs(), verbose=0) - calibration.query_y
                    noise = noise_levels[k] = float(np.sqrt(np.mean(errors ** 2)))
                functions, noise = _predictive(name, model, tests[k], samples, noise)
                log_lik = per_task[name, k] = mixture_log_likelihood(functions, noise,
                                                                     tests[k].query_y)
                coverage = mixture_coverage(functions, noise, tests[k].query_y)
                point = (model.predict(tests[k].inputs(), batch_size=100, verbose=0)
                         if name == "abml" else functions[0])
                mse = ((point - tests[k].query_y) ** 2).mean(axis=(1, 2))
                mean, ci = mean_ci95(log_lik)
                rows.append(row(name, "log_likelihood", mean, ci95=ci, episodes=len(log_lik),
                                train_seconds=out["train_seconds"], memory=memory, seed=seed,
                                settings={"shots": k, "samples": 1 if name == "maml" else
                                          samples},
                                steps=out["steps"], noise_std=round(noise, 4),
                                coverage95=[round(v, 4) for v in mean_ci95(coverage)],
                                mse=[round(v, 4) for v in mean_ci95(mse)],
                                function_spread=round(float(functions.std(axis=0).mean()), 4),
                                **(_abml_state(model) if name == "abml" else {})))
                pictures.setdefault(k, {})[name] = _picture_task(
                    name, model, k, PICTURE_TASKS[shots.index(k) % 3], grid, samples, noise)
        keras.backend.clear_session()
    for r in rows:  # ABML against MAML, paired over the same test tasks
        k = r["settings"]["shots"]
        if r["method"] == "abml" and ("maml", k) in per_task:
            r["vs_maml"] = paired_difference(per_task["abml", k], per_task["maml", k])
    settings = {"shots": shots, "minutes_per_method": minutes, "test_episodes": n_test,
                "calibration_episodes": n_cal, "samples": samples, "meta_batch_size": batch,
                "train_shots": [1, 10], "network": "1-40-40-1 ReLU",
                "inner": "MAML: 1 step of 0.01; ABML: `abml` (steps on the posterior's means "
                         "and log-stds)",
                "abml": abml,
                "maml_noise_std_by_shots": noise_levels, "grid": grid.round(3).tolist(),
                "picture": pictures}
    return {"rows": rows, "settings": settings, "notes": _notes(rows)}


def _abml_state(model) -> dict:
    """What ABML meta-learned: the prior's mean std and the inner rates' mean (if learned)."""
    def mean(variables, transform=lambda v: v):
        values = np.concatenate([transform(np.asarray(v.numpy())).ravel() for v in variables])
        return round(float(values.mean()), 5)

    state = {"prior_std_mean": mean(model.prior_log_stds, np.exp)}
    if model.learn_inner_rates:
        state.update(mean_rate_mean=mean(model.mean_rates),
                     log_std_rate_mean=mean(model.log_std_rates))
    return state


def _picture_task(name, model, k, task, grid, samples, noise) -> dict:
    """Support points, truth and predictive functions of one task on `grid`, as lists."""
    from l2l.episodes import Episode

    amplitude, phase = task
    rng = np.random.default_rng(k)
    x = rng.uniform(-5, 5, (1, k, 1)).astype("float32")
    y = (amplitude * np.sin(x - phase)).astype("float32")
    query = grid[None, :, None]
    episode = Episode(support_x=x, support_y=y, query_x=query,
                      query_y=np.zeros_like(query), support_mask=np.ones((1, k), "float32"))
    if name == "maml":
        functions = model.predict(episode.inputs(), verbose=0)[None]
    else:
        functions = model.sample_functions(episode.inputs(), samples=min(samples, 10), seed=1)
    return {"support_x": x.ravel().tolist(), "support_y": y.ravel().tolist(),
            "truth": (amplitude * np.sin(grid - phase)).round(4).tolist(),
            "functions": functions[:, 0, :, 0].round(4).tolist(), "noise_std": noise}


def _notes(rows: list[dict]) -> list[str]:
    notes = ["One seed, equal training minutes per method on a shared 2-core CPU (see "
             "load_1min per row); MAML's noise is calibrated per shot count on fresh "
             "training-distribution tasks, ABML's is learned."]
    by = {(r["method"], r["settings"]["shots"]): r for r in rows}
    for k in sorted({r["settings"]["shots"] for r in rows}):
        a, m = by.get(("abml", k)), by.get(("maml", k))
        if a is None or m is None:
            continue
        if "vs_maml" in a:  # paired over the same test tasks
            paired = a["vs_maml"]
            verdict = (f"ABML {verdict_verb(paired)} MAML (paired difference "
                       f"{paired['difference']:+.3f} +- {paired['ci95']:.3f} over "
                       f"{paired['pairs']} tasks)")
        else:  # results stored before the paired comparison: the two intervals
            verdict = "ABML " + ("beats" if a["mean"] - a["ci95"] > m["mean"] + m["ci95"] else
                                 "is worse than" if a["mean"] + a["ci95"] < m["mean"] - m["ci95"]
                                 else "is not distinguishable from") + " MAML (two intervals)"
        notes.append(f"{k} shot(s): log-likelihood ABML {a['mean']:.3f} +- {a['ci95']:.3f}, "
                     f"MAML {m['mean']:.3f} +- {m['ci95']:.3f}: {verdict}; 95% coverage "
                     f"{a['coverage95'][0]:.3f} vs {m['coverage95'][0]:.3f}; MSE "
                     f"{a['mse'][0]:.3f} vs {m['mse'][0]:.3f}.")
    return notes


def plot(result: dict):
    """One panel per shot count: truth, support points, ABML draws, MAML's +-1.96 sigma band."""
    import matplotlib.pyplot as plt

    pictures = result["settings"]["picture"]
    grid = np.asarray(result["settings"]["grid"])
    fig, axes = plt.subplots(1, len(pictures), figsize=(4.2 * len(pictures), 3.6), squeeze=False)
    for ax, (k, methods) in zip(axes[0], pictures.items(), strict=True):
        maml, abml = methods.get("maml"), methods.get("abml")
        ref = maml or abml
        ax.plot(grid, ref["truth"], color="k", lw=1.5, label="true function")
        if maml:
            f, s = np.asarray(maml["functions"][0]), maml["noise_std"]
            ax.plot(grid, f, color="C0", label="MAML")
            ax.fill_between(grid, f - 1.96 * s, f + 1.96 * s, color="C0", alpha=0.15,
                            label="MAML 95% (fixed noise)")
        if abml:
            for i, f in enumerate(abml["functions"]):
                ax.plot(grid, f, color="C3", lw=0.8, alpha=0.6,
                        label="ABML posterior draws" if i == 0 else None)
        ax.scatter(ref["support_x"], ref["support_y"], color="k", zorder=5, label="support")
        ax.set(title=f"{k} shot(s)", xlabel="x", ylim=(-7, 7))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"probabilistic MAML (ABML) vs MAML, sinusoid ({result['mode']} run)",
                 fontsize=10)
    fig.tight_layout()
    return fig
