"""Block-diagonal Newton vs SGD and Adam: steps and seconds to a target loss, cost per step.

Three measurements of `l2l.second_order` (regularised block-diagonal Newton steps):

- `fit`: full-batch training of a small tanh regressor (1 -> 20 -> 20 -> 1, 481 parameters)
  on `fit_points` points of `y = sin(2x) + 0.3x`, x in [-3, 3], from `seeds` initialisations:
  steps and seconds until the training MSE first falls to `fit_target`, for SGD, Adam and
  `BlockDiagonalNewton` at several block sizes (`SecondOrderModel.train_on_batch`; plain
  `model.train_on_batch` for SGD and Adam). A run that never reaches the target within its
  step budget counts as its budget (a lower bound; `reached` says how many did).
- `inner`: the inner loop of sinusoid MAML. MAML (the sinusoid benchmark's network and
  settings: 1-40-40-1 ReLU, one inner SGD step of 0.01, Adam(1e-3), XLA) is meta-trained for
  `maml_minutes`; its initialisation is then adapted on the first `inner_episodes` stored
  5-shot test tasks of the sinusoid benchmark (`sinusoid-5shot-q50`, same episode store; 25
  by default, since a Newton step on 25 episodes takes seconds here) by SGD at MAML's rate
  and at 10x, by Adam(0.01), and by Newton steps (`NewtonMAML`'s inner update) at block
  sizes 4, 16 and 64. Per episode, the target is the support loss that SGD at MAML's rate
  reaches after `inner_steps` steps; a row reports the steps each method needs to reach it
  (censored at `inner_steps`), the support loss and the query MSE after 1 and after
  `inner_steps` steps, and the seconds per step for the whole batch.
- `cost`: seconds per Newton step on the sinusoid network (1,761 parameters, one 5-shot
  episode) as the block size grows from 1 to 1,761 (the full Hessian).

Reading the inner-loop rows: fewer steps to a support loss is what Newton buys; on 5 points
and 1,761 parameters it also fits the support set's noise-free points so hard that the query
MSE after 10 steps is worse than SGD's (see `query_mse_after_all`), and SGD at 10x MAML's rate
also reaches the target in fewer steps, with a still worse query MSE.

Newton settings (`NEWTON`): step 0.5, eigenvalues floored at 0.01, direction norm at most 1.
Budget (full run, 2 shared CPU cores): MAML training 1 minute, the rest about 6-10 minutes
(most of it Newton steps: `P` Hessian-vector products each).
Not done: larger networks (the exact blocks cost one Hessian-vector product per parameter,
see `l2l.second_order`), mini-batch (stochastic) Newton, meta-training through Newton steps.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import PeakRSS, row, stored_episodes, train_and_evaluate

FIT_HIDDEN = 20
NEWTON = {"inner_learning_rate": 0.5, "eigen_floor": 1e-2, "max_step": 1.0}
"""Newton settings everywhere: half steps, eigenvalues floored at 0.01, direction norm <= 1."""


def regression_data(points: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 3, size=(points, 1))).astype("float32")
    return x, (np.sin(2 * x) + 0.3 * x).astype("float32")


def tanh_net(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((1,)),
                             keras.layers.Dense(FIT_HIDDEN, activation="tanh"),
                             keras.layers.Dense(FIT_HIDDEN, activation="tanh"),
                             keras.layers.Dense(1)])


def fit_optimizers(block_sizes) -> dict:
    """Name -> (optimizer factory, step budget multiplier: first-order methods get 10x)."""
    import keras

    from l2l.second_order import BlockDiagonalNewton

    optimizers = {"sgd 0.1": (lambda: keras.optimizers.SGD(0.1), 10),
                  "adam 0.01": (lambda: keras.optimizers.Adam(0.01), 10)}
    for b in block_sizes:
        optimizers[f"newton b={b}"] = (
            lambda b=b: BlockDiagonalNewton(NEWTON["inner_learning_rate"], block_size=b,
                                            eigen_floor=NEWTON["eigen_floor"],
                                            max_step=NEWTON["max_step"]),
            1)
    return optimizers


def fit_curve(make_optimizer, seed: int, x, y, steps: int, target: float):
    """`(losses, seconds)` per step of full-batch training, stopping once `target` is met."""
    from l2l.second_order import BlockDiagonalNewton, SecondOrderModel

    net = tanh_net(seed)
    optimizer = make_optimizer()
    model = SecondOrderModel(net) if isinstance(optimizer, BlockDiagonalNewton) else net
    model.compile(optimizer, loss="mse")
    model.train_on_batch(x, y)  # trace outside the clock (one step, counted below)
    losses, seconds = [float(model.evaluate(x, y, verbose=0))], [0.0]
    start = time.perf_counter()
    for _ in range(steps):
        losses.append(float(model.train_on_batch(x, y)))
        seconds.append(time.perf_counter() - start)
        if losses[-1] <= target:
            break
    # train_on_batch returns the loss before its step; the first entry is after the warm-up
    return losses, seconds


def run_fit(seeds: int, points: int, block_sizes, newton_steps: int, target: float):
    from l2l.evaluation import mean_ci95

    x, y = regression_data(points)
    rows, curves = [], {}
    for name, (factory, multiplier) in fit_optimizers(block_sizes).items():
        budget = newton_steps * multiplier
        steps, secs, finals, reached, per_step = [], [], [], 0, []
        with PeakRSS() as memory:
            for seed in range(seeds):
                losses, seconds = fit_curve(factory, seed, x, y, budget, target)
                hit = next((i for i, v in enumerate(losses) if v <= target), None)
                reached += hit is not None
                steps.append(budget if hit is None else hit)
                secs.append(seconds[-1] if hit is None else seconds[hit])
                finals.append(losses[-1])
                per_step.append(seconds[-1] / max(len(seconds) - 1, 1))
                if seed == 0:
                    curves[name] = losses
        mean, ci = mean_ci95(np.asarray(steps, float)) if seeds > 1 else (steps[0], None)
        sec_mean, sec_ci = mean_ci95(np.asarray(secs)) if seeds > 1 else (secs[0], None)
        rows.append(row(name, "steps_to_target", mean, ci95=ci, episodes=seeds,
                        memory=memory, seed=0,
                        settings={"part": "fit", "target_mse": target, "step_budget": budget},
                        seconds_to_target=round(sec_mean, 4),
                        seconds_to_target_ci95=None if sec_ci is None else round(sec_ci, 4),
                        reached=reached, runs=seeds, final_mse=float(np.mean(finals)),
                        seconds_per_step=round(float(np.median(per_step)), 5)))
    return rows, curves


def train_maml(minutes: float, seed: int, quick: bool):
    import keras

    from benchmarks.sinusoid import network
    from l2l.algorithms import MAML
    from l2l.tasks import SinusoidTask

    maml = MAML(network(seed), inner_steps=1, inner_learning_rate=0.01)
    maml.compile(keras.optimizers.Adam(1e-3), jit_compile=not quick)
    out = train_and_evaluate(maml, SinusoidTask(shots=(1, 10), queries=10).dataset(
        8 if quick else 25, seed=seed), None, minutes=minutes,
        steps_per_epoch=5 if quick else 100, metric="mse", anneal=True)
    return maml, out


def inner_methods(block_sizes) -> dict:
    """Inner-loop method name -> `("sgd", rate)`, `("adam", rate)` or `("newton", block)`."""
    methods = {"sgd 0.01 (MAML's)": ("sgd", 0.01), "sgd 0.1": ("sgd", 0.1),
               "adam 0.01": ("adam", 0.01)}
    methods.update({f"newton b={b}": ("newton", b) for b in block_sizes})
    return methods


def inner_stepper(maml, kind: str, value):
    """`step(phi, inputs) -> phi`: one inner step of a method on a batch of episodes."""
    import keras
    import tensorflow as tf

    from l2l.algorithms import MAML, NewtonMAML

    theta = [tf.convert_to_tensor(v) for v in maml.model.trainable_variables]
    if kind == "newton":
        learner = NewtonMAML(maml.model, block_size=value, **NEWTON)
    elif kind == "sgd":
        learner = MAML(maml.model, inner_learning_rate=value)
    if kind in ("newton", "sgd"):
        @tf.function
        def step(phi, inputs):
            _, updates = learner.inner_update(theta, phi, inputs, list(range(len(phi))))
            return [p - u for p, u in zip(phi, updates, strict=True)]
        return step

    def step(phi, inputs):  # Adam: fresh moments for every new batch of episodes
        if step.inputs is not inputs:
            variables = [keras.Variable(p) for p in phi]
            optimizer = keras.optimizers.Adam(value)
            optimizer.build(variables)

            @tf.function
            def adam_step(inputs):
                with tf.GradientTape() as tape:
                    total = tf.reduce_sum(maml.support_objective(
                        theta, [v.value for v in variables], inputs))
                grads = tape.gradient(total, variables)
                optimizer.apply(grads, variables)

            step.inputs, step.variables, step.compiled = inputs, variables, adam_step
        step.compiled(inputs)
        return [tf.convert_to_tensor(v) for v in step.variables]

    step.inputs = None
    return step


def run_inner(maml, test, steps: int, block_sizes, chunk: int):
    """Support loss curves `[B, steps + 1]`, query MSE and timing of every inner method,
    the episodes taken `chunk` at a time (Newton's Hessians are `[chunk, P, P]`)."""
    import tensorflow as tf

    from l2l.algorithms.functional import stack_params

    theta = [tf.convert_to_tensor(v) for v in maml.model.trainable_variables]
    results = {}
    for name, (kind, value) in inner_methods(block_sizes).items():
        step = inner_stepper(maml, kind, value)
        support, query, times = [], [], []
        for first in range(0, len(test.support_x), chunk):
            part = test[first:first + chunk]
            inputs = {k: tf.convert_to_tensor(v) for k, v in part.inputs().items()}
            phi = stack_params(theta, len(part.support_x))
            s, q = [], []
            for k in range(steps + 1):
                s.append(maml.support_objective(theta, phi, inputs).numpy())
                prediction = maml.call_with_params(phi, inputs["query_x"]).numpy()
                q.append(((prediction - part.query_y) ** 2).mean(axis=(1, 2)))
                if k < steps:
                    start = time.perf_counter()
                    phi = [tf.convert_to_tensor(p.numpy()) for p in step(phi, inputs)]
                    times.append(time.perf_counter() - start)
            support.append(np.stack(s, 1))
            query.append(np.stack(q, 1))
        results[name] = {"support": np.concatenate(support), "query": np.concatenate(query),
                         "seconds_per_step": float(np.median(times[1:] or times)),
                         "episodes_per_step": min(chunk, len(test.support_x))}
    return results


def inner_rows(results: dict, steps: int, memory) -> list[dict]:
    from l2l.evaluation import mean_ci95

    target = results["sgd 0.01 (MAML's)"]["support"][:, steps]
    rows = []
    for name, r in results.items():
        support, query = r["support"], r["query"]
        hit = support <= target[:, None] * (1 + 1e-6)
        reached = hit.any(axis=1)
        first = np.where(reached, hit.argmax(axis=1), steps)
        mean, ci = mean_ci95(first.astype(float))
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(query[:, steps]) & (query[:, steps] < 1e4)
        rows.append(row(
            name, "steps_to_target", mean, ci95=ci, episodes=len(first), memory=memory, seed=0,
            settings={"part": "inner", "shots": 5, "inner_steps": steps,
                      "target": f"support loss of SGD 0.01 after {steps} steps, per episode"},
            reached=int(reached.sum()),
            support_loss_after_1=round(float(np.mean(support[:, 1])), 5),
            support_loss_after_all=round(float(np.mean(support[:, steps])), 5),
            query_mse_before=round(float(np.mean(query[:, 0])), 4),
            query_mse_after_1=round(float(np.mean(query[:, 1])), 4),
            query_mse_after_all=_mean_ci(query[finite, steps]),
            query_diverged=int((~finite).sum()),
            seconds_per_step=round(r["seconds_per_step"], 5),
            episodes_per_step=r["episodes_per_step"],
            support_curve=[round(float(v), 5) for v in support.mean(axis=0)]))
    return rows


def _mean_ci(values) -> list[float] | None:
    from l2l.evaluation import mean_ci95

    if len(values) == 0:
        return None
    return [round(v, 4) for v in mean_ci95(np.asarray(values))]


def run_cost(maml, test, block_sizes, batches, repeats: int) -> list[dict]:
    import tensorflow as tf

    from l2l.algorithms.functional import stack_params

    rows = []
    theta = [tf.convert_to_tensor(v) for v in maml.model.trainable_variables]
    for batch in batches:
        inputs = {k: tf.convert_to_tensor(v[:batch]) for k, v in test.inputs().items()}
        phi = stack_params(theta, batch)
        for b in block_sizes:
            step = inner_stepper(maml, "newton", b)
            with PeakRSS() as memory:
                [p.numpy() for p in step(phi, inputs)]
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    [p.numpy() for p in step(phi, inputs)]
                    times.append(time.perf_counter() - start)
            rows.append(row(f"newton b={b}", "seconds_per_step", float(np.median(times)),
                            episodes=batch, memory=memory, seed=0,
                            settings={"part": "cost", "block_size": b, "episodes": batch,
                                      "parameters": int(sum(np.prod(t.shape) for t in theta))},
                            repeats=repeats))
    return rows


def run(quick: bool = False, seed: int = 0, *, seeds: int | None = None,
        fit_points: int = 128, fit_target: float = 0.01,
        fit_block_sizes: tuple[int, ...] = (16, 64, 481), newton_steps: int | None = None,
        maml_minutes: float | None = None, inner_episodes: int | None = None,
        inner_steps: int = 10, inner_block_sizes: tuple[int, ...] = (4, 16, 64),
        inner_chunk: int = 25, cost_block_sizes: tuple[int, ...] | None = None,
        cost_batches: tuple[int, ...] = (1,)) -> dict:
    """Fit a regressor, adapt sinusoid MAML, time Newton steps (see the module docstring)."""
    import keras

    from l2l.tasks import SinusoidTask

    seeds = seeds or (1 if quick else 3)
    newton_steps = newton_steps or (3 if quick else 60)
    minutes = maml_minutes if maml_minutes is not None else (0.02 if quick else 1.0)
    n_inner = inner_episodes or (8 if quick else 25)
    if cost_block_sizes is None:  # () skips the cost part
        cost_block_sizes = (16, 1761) if quick else (1, 4, 16, 64, 256, 1024, 1761)
    if quick:
        fit_block_sizes, inner_block_sizes = fit_block_sizes[:1], inner_block_sizes[:1]
        inner_steps, cost_batches = min(inner_steps, 2), cost_batches[:1]
    rows, notes = [], []
    fit_rows, curves = run_fit(seeds, fit_points, fit_block_sizes, newton_steps, fit_target)
    rows += fit_rows
    keras.utils.set_random_seed(seed)
    maml, trained = train_maml(minutes, seed, quick)
    test = stored_episodes(SinusoidTask(shots=5, queries=50), "sinusoid-5shot-q50", 1000,
                           "test")[:n_inner]
    with PeakRSS() as memory:
        results = run_inner(maml, test, inner_steps, inner_block_sizes, inner_chunk)
    rows += inner_rows(results, inner_steps, memory)
    rows += run_cost(maml, test, cost_block_sizes, cost_batches, repeats=2 if quick else 3)
    settings = {"seeds": seeds, "fit_points": fit_points, "fit_target_mse": fit_target,
                "fit_network": f"1-{FIT_HIDDEN}-{FIT_HIDDEN}-1 tanh",
                "newton": NEWTON, "inner_chunk": inner_chunk,
                "newton_step_budget": newton_steps, "first_order_step_budget": 10 * newton_steps,
                "maml": {"minutes": minutes, "updates": trained["steps"],
                         "network": "1-40-40-1 ReLU", "inner": "1 SGD step of 0.01"},
                "inner_episodes": n_inner, "inner_steps": inner_steps,
                "fit_curves_seed0": {k: [round(v, 6) for v in c] for k, c in curves.items()}}
    notes.append("steps_to_target of a run or episode that never reaches the target is its "
                 "step budget (a lower bound); `reached` counts those that did. Seconds per "
                 "step are medians on a shared, loaded 2-core CPU (see load_1min per row).")
    notes += _verdicts(rows, inner_steps)
    return {"rows": rows, "settings": settings, "notes": notes}


def _verdicts(rows: list[dict], steps: int) -> list[str]:
    inner = {r["method"]: r for r in rows if r["settings"]["part"] == "inner"}
    sgd = inner.get("sgd 0.01 (MAML's)")
    notes = []
    for name, r in inner.items():
        if not name.startswith("newton"):
            continue
        fewer = r["mean"] + r["ci95"] < sgd["mean"] - sgd["ci95"]
        notes.append(f"sinusoid inner loop: {name} needs {r['mean']:.2f} +- {r['ci95']:.2f} "
                     f"steps to SGD's {steps}-step support loss ({r['reached']}/{r['episodes']} "
                     f"reach it) vs SGD's {sgd['mean']:.2f}: "
                     f"{'fewer steps (target met)' if fewer else 'target NOT met'}; query MSE "
                     f"after {steps} steps {r['query_mse_after_all']} vs SGD's "
                     f"{sgd['query_mse_after_all']}.")
    return notes


def plot(result: dict):
    """Fit loss per step; inner-loop support loss per step; seconds per step vs block size."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, curve in result["settings"]["fit_curves_seed0"].items():
        axes[0].plot(np.arange(len(curve)), curve, label=name)
    axes[0].axhline(result["settings"]["fit_target_mse"], color="gray", ls=":", label="target")
    axes[0].set(xscale="symlog", yscale="log", xlim=(0, None), xlabel="full-batch steps",
                ylabel="training MSE", title="fit: tanh regressor (seed 0)")
    for r in (r for r in result["rows"] if r["settings"]["part"] == "inner"):
        axes[1].plot(r["support_curve"], marker=".", label=r["method"])
    axes[1].set(yscale="log", xlabel="inner steps", ylabel="mean support loss",
                title="sinusoid MAML inner loop, 5 shots")
    for batch in sorted({r["settings"]["episodes"] for r in result["rows"]
                         if r["settings"]["part"] == "cost"}):
        cost = [r for r in result["rows"] if r["settings"]["part"] == "cost"
                and r["settings"]["episodes"] == batch]
        axes[2].plot([r["settings"]["block_size"] for r in cost], [r["mean"] for r in cost],
                     marker="o", label=f"{batch} episode(s)")
    axes[2].set(xscale="log", yscale="log", xlabel="block size",
                ylabel="seconds per Newton step", title="cost per step (1,761 parameters)")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(f"block-diagonal Newton vs SGD and Adam ({result['mode']} run)", fontsize=10)
    fig.tight_layout()
    return fig
