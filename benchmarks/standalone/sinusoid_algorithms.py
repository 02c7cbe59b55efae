"""Sinusoid regression, 5 and 10 shots: the gradient-based meta-learners side by side.

Every method meta-trains the MAML paper's network (1 -> 40 -> 40 -> 1, ReLU) on the MAML
protocol (`l2l.tasks.SinusoidTask`) for the same number of meta-updates with the same batch of
episodes, and is scored by `l2l.evaluation.evaluate` on the SAME held-out tasks (one fixed
evaluation set per shot count, 100 query points per task), with a 95% confidence interval.
Each trained model is scored with its own inner loop and again with 10 inner steps (MAML and
the full scale-aware variant also with 10 steps under the automatic stopping rule).
`simplemaml` (PyPI; a benchmark-only dependency, `pip install -e .[bench]`) runs in the same
command on the same network and tasks, and its meta-trained initialisation is adapted and
scored by the same code (one SGD step at its inner learning rate).

    python benchmarks/standalone/sinusoid_algorithms.py           # the committed result (5-20 min)
    python benchmarks/standalone/sinusoid_algorithms.py --quick   # a smoke test, under a minute

Writes `benchmarks/standalone/results/sinusoid_algorithms.json`: one row per (method, shots,
inner steps)
with method, settings, seed, metric, mean, ci95, episodes, train_seconds,
seconds_per_update, commit and machine. Published figures (Finn et al. 2017 via Li et al.
2017): MAML 1.13 / 0.77, Meta-SGD 0.90 / 0.53 MSE at 5 / 10 shots, after 70,000 meta-updates
of 25 tasks; this benchmark's budget is far smaller and says so in every row.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import time

import keras
import numpy as np

from l2l.algorithms import MAML, MetaSGD, Reptile, ScaleAwareMAML
from l2l.evaluation import evaluate, mean_ci95, per_episode_mse
from l2l.tasks import SinusoidTask

PUBLISHED = {("maml", 5): 1.13, ("maml", 10): 0.77, ("meta_sgd", 5): 0.90, ("meta_sgd", 10): 0.53}
EVAL_SEED = 20_170_703
EVAL_STEPS = 10

METHODS = {
    "maml": (MAML, {"inner_steps": 1}),
    "fomaml": (MAML, {"inner_steps": 1, "first_order": True}),
    "reptile": (Reptile, {"inner_steps": 5}),
    "meta_sgd": (MetaSGD, {"inner_steps": 1}),
    "scale_rates": (ScaleAwareMAML, {"inner_steps": 1, "prior": None, "scaled_rates": True}),
    "scale_quadratic_decay": (ScaleAwareMAML, {"inner_steps": 2, "prior": "quadratic",
                                               "scaled_rates": True, "decay_after": 3.0}),
    "scale_quartic": (ScaleAwareMAML, {"inner_steps": 2, "prior": "quartic",
                                       "scaled_rates": True}),
}
# Every trained model is scored with its own inner loop and with 10 steps; these also with 10
# steps under the automatic stopping rule.
AUTOSTOP = {"test_steps": EVAL_STEPS, "stop_tolerance": 1e-3}
AUTOSTOP_METHODS = ("maml", "scale_quadratic_decay")


def network(seed: int) -> keras.Model:
    """The MAML paper's sinusoid regressor."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(40, activation="relu"),
                             keras.layers.Dense(40, activation="relu"), keras.layers.Dense(1)])


class UpdateClock(keras.callbacks.Callback):
    """Wall-clock per meta-update, measured after `warmup` updates (tracing, XLA compile)."""

    def __init__(self, warmup: int = 20):
        super().__init__()
        self.warmup, self.batches, self.mark = warmup, 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == self.warmup:
            self.mark = time.perf_counter()
        self.end = time.perf_counter()

    def seconds_per_update(self) -> float | None:
        if self.mark is None or self.batches <= self.warmup:
            return None
        return (self.end - self.mark) / (self.batches - self.warmup)


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "keras": keras.__version__, "tensorflow": _tf_version(),
            "load_average_at_start": list(os.getloadavg()),
            "note": "a machine shared with other jobs (see load_average_at_start): "
                    "timings are noisy"}


def _tf_version() -> str:
    import tensorflow as tf
    return tf.__version__


def commit() -> str:
    try:
        sha = subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
        dirty = subprocess.call(["git", "diff", "--quiet", "HEAD", "--", "l2l", "benchmarks"])
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_method(name, shots, args, test, common):
    cls, kwargs = METHODS[name]
    model = cls(network(args.seed), inner_learning_rate=args.inner_lr, **kwargs)
    model.compile(keras.optimizers.Adam(args.meta_lr), jit_compile=not args.no_xla)
    clock = UpdateClock()
    train = SinusoidTask(shots=shots, queries=args.train_queries)
    start = time.perf_counter()
    model.fit(train.dataset(args.batch_size, seed=args.seed), steps_per_epoch=args.updates,
              epochs=1, verbose=0, callbacks=[clock])
    seconds = time.perf_counter() - start
    settings = {**common, **{k: v for k, v in model.get_config().items()
                             if k not in ("model", "name", "trainable", "dtype", "loss")},
                "xla": bool(model.jit_compile)}
    model.jit_compile = False  # XLA pays off over thousands of updates, not 8 predict batches
    variants = [{}, {"test_steps": EVAL_STEPS}] + ([AUTOSTOP] if name in AUTOSTOP_METHODS else [])
    rows = []
    for changes in variants:
        scored = model.with_options(**changes) if changes else model
        rows.append(row(name, shots, {**settings, "test_steps": scored.test_steps,
                                      "stop_tolerance": scored.stop_tolerance},
                        args, score(scored, test), seconds, clock.seconds_per_update()))
    return rows


def score(model, test) -> dict:
    """`evaluate`'s MSE and CI; episodes whose adaptation diverged are counted, not hidden."""
    predictions = model.predict(test.inputs(), batch_size=250, verbose=0)
    finite = np.isfinite(per_episode_mse(predictions, test.query_y))
    result = evaluate(model, test, "mse")
    return {"metric": result.metric, "mean": result.mean if finite.all() else None,
            "ci95": result.ci95 if finite.all() else None, "episodes": result.episodes,
            "diverged_episodes": int((~finite).sum())}


def run_simplemaml(shots, args, test, common):
    """The PyPI `simplemaml` on the same network and task distribution."""
    import simplemaml  # benchmark-only dependency

    random.seed(args.seed)
    train = SinusoidTask(shots=shots, queries=args.train_queries)
    episodes = train.episodes(args.simplemaml_updates * args.batch_size, seed=args.seed)
    tasks = [{"train": {"inputs": episodes.support_x[i], "target": episodes.support_y[i]},
              "test": {"inputs": episodes.query_x[i], "target": episodes.query_y[i]}}
             for i in range(episodes.batch_size)]
    net = network(args.seed)
    start = time.perf_counter()
    with open(os.devnull, "w") as quiet, _keras3_tape_shim():
        stdout, sys.stdout = sys.stdout, quiet
        try:
            net, _ = simplemaml.MAML(
                net, alpha=args.simplemaml_meta_lr, beta=args.inner_lr,
                optimizer=keras.optimizers.SGD, meta_epochs=args.simplemaml_updates,
                meta_tasks_per_epoch=[args.batch_size, args.batch_size], tasks=tasks)
        finally:
            sys.stdout = stdout
    seconds = time.perf_counter() - start
    scorer = MAML(net, inner_steps=1, inner_learning_rate=args.inner_lr)
    rows = []
    for steps in (1, EVAL_STEPS):
        scored = scorer if steps == 1 else scorer.with_options(test_steps=steps)
        settings = {**common, "updates": args.simplemaml_updates,
                    "inner_learning_rate (beta)": args.inner_lr,
                    "meta_learning_rate (alpha, SGD)": args.simplemaml_meta_lr,
                    "test_steps": steps, "simplemaml": _simplemaml_version(),
                    "how": "simplemaml.MAML(model, tasks=[{train, test}] per task, SGD inner "
                           "and outer, meta_tasks_per_epoch=[B, B]); its meta-trained model "
                           "is then adapted by l2l's MAML scorer with plain SGD steps. As "
                           "published, simplemaml resets its task copy once per meta-update, "
                           "not per task, and is first order. simplemaml 1.2.13 calls "
                           "GradientTape.watch on Keras 3 variables, which TF 2.21 rejects; "
                           "the benchmark unwraps them to their tf.Variable for that call "
                           "(_keras3_tape_shim) and changes nothing else."}
        rows.append(row("simplemaml", shots, settings, args, score(scored, test), seconds,
                        seconds / args.simplemaml_updates))
    return rows


@contextlib.contextmanager
def _keras3_tape_shim():
    """Let `tf.GradientTape.watch` accept Keras 3 variables (simplemaml targets tf.keras 2)."""
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


def _simplemaml_version() -> str:
    from importlib.metadata import version
    return version("simplemaml")


def row(method, shots, settings, args, scored, seconds, per_update):
    published = PUBLISHED.get((method, shots)) if settings.get("test_steps") == 1 else None
    result = {"method": method, "shots": shots, "settings": settings, "seed": args.seed,
              **scored, "train_seconds": round(seconds, 2),
              "seconds_per_update": None if per_update is None else round(per_update, 5),
              "published_mse": published, "commit": COMMIT, "machine": MACHINE}
    mean = "diverged" if scored["mean"] is None else f"{scored['mean']:.4f} ± {scored['ci95']:.4f}"
    print(f"{method:22s} {shots:2d}-shot {settings.get('test_steps')!s:>2} steps "
          f"(stop {settings.get('stop_tolerance')})  mse {mean}  "
          f"[{scored['diverged_episodes']} diverged]  train {seconds:.0f}s", flush=True)
    return result


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shots", type=int, nargs="+", default=[5, 10])
    p.add_argument("--methods", nargs="+", default=[*METHODS, "simplemaml"],
                   choices=[*METHODS, "simplemaml"])
    p.add_argument("--updates", type=int, default=2000, help="meta-updates per method")
    p.add_argument("--batch-size", type=int, default=25, help="tasks per meta-update")
    p.add_argument("--train-queries", type=int, default=10)
    p.add_argument("--test-queries", type=int, default=100)
    p.add_argument("--test-episodes", type=int, default=2000)
    p.add_argument("--inner-lr", type=float, default=0.01)
    p.add_argument("--meta-lr", type=float, default=1e-3)
    p.add_argument("--simplemaml-updates", type=int, default=40,
                   help="its eager per-task loop takes 1-2 s per update here: 40 fit the time")
    p.add_argument("--simplemaml-meta-lr", type=float, default=0.01)
    p.add_argument("--no-xla", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                    "sinusoid_algorithms.json"))
    p.add_argument("--quick", action="store_true", help="tiny budget, to check it runs")
    args = p.parse_args(argv)
    if args.quick:
        args.updates, args.simplemaml_updates, args.test_episodes = 30, 3, 200
    return args


COMMIT, MACHINE = None, None


def main(argv=None) -> list[dict]:
    global COMMIT, MACHINE
    args = parse_args(argv)
    COMMIT, MACHINE = commit(), machine()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rows, begin = [], time.perf_counter()
    for shots in args.shots:
        test = SinusoidTask(shots=shots, queries=args.test_queries).fixed_episodes(
            args.test_episodes, seed=EVAL_SEED)
        common = {"shots": shots, "updates": args.updates, "batch_size": args.batch_size,
                  "train_queries": args.train_queries, "test_queries": args.test_queries,
                  "meta_optimizer": f"Adam({args.meta_lr})", "network": "1-40-40-1 ReLU",
                  "eval_seed": EVAL_SEED,
                  "budget": f"{args.updates} meta-updates of {args.batch_size} tasks "
                            "(the MAML paper: 70,000)"}
        zero = mean_ci95(per_episode_mse(np.zeros_like(test.query_y), test.query_y))
        rows.append({"method": "predict_zero", "shots": shots, "settings": common,
                     "seed": args.seed, "metric": "mse", "mean": zero[0], "ci95": zero[1],
                     "episodes": test.batch_size, "diverged_episodes": 0, "train_seconds": 0.0,
                     "seconds_per_update": None, "published_mse": None, "commit": COMMIT,
                     "machine": MACHINE})
        for name in args.methods:
            if name == "simplemaml":
                rows += run_simplemaml(shots, args, test, common)
            else:
                rows += run_method(name, shots, args, test, common)
    total = time.perf_counter() - begin
    print(f"total {total:.0f}s")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({"benchmark": "sinusoid_algorithms", "total_seconds": round(total, 1),
                   "command": "python benchmarks/standalone/sinusoid_algorithms.py "
                              + " ".join(argv if argv is not None else sys.argv[1:]),
                   "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
