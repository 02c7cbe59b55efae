"""Seconds per conv4 meta-update: batched vs pfor engine, XLA on/off, against a plain step.

The network is MAML's Omniglot conv4 (`conv4`: 4 x [Conv2D 64 3x3, BatchNorm, ReLU, 2x2
max-pool], Flatten, Dense), 28x28x1 inputs, `ways`-way 1-shot with one query per class, meta
batch `meta_batch` (32), one inner step at 0.4 (Finn et al. 2017's Omniglot setting). Images
are random (timing does not depend on them). Each row is the median of `repeats`
`train_on_batch` calls after a warm-up call (tracing and XLA compilation excluded), for one
(method, engine, XLA, precision). The `plain` rows time a supervised train step of the same
network over the same number of images (`meta_batch * 2 * ways`), so `overhead` (meta-update /
plain step, same XLA setting) is what the algorithm costs on top of the framework's kernels.

`omniglot_gradient` reuses these rows for its speed columns; `device_check.sh` runs this module
on a GPU (`-o mixed_precision=true` adds mixed-precision rows). Quick mode: 8 filters,
meta-batch 4, one repeat.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import row

ALGORITHMS = ("maml", "fomaml", "anil", "meta_sgd", "reptile", "scale_rates")
INNER_LEARNING_RATE = 0.4


def conv4(ways: int, filters: int = 64, input_shape=(28, 28, 1), seed: int = 0):
    """MAML's Omniglot network: 4 conv blocks, Flatten, Dense(ways) with softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input(input_shape), keras.layers.Rescaling(1 / 255)]
    for _ in range(4):
        layers += [keras.layers.Conv2D(filters, 3, padding="same"),
                   keras.layers.BatchNormalization(), keras.layers.ReLU(),
                   keras.layers.MaxPooling2D(2)]
    layers += [keras.layers.Flatten(), keras.layers.Dense(ways, activation="softmax")]
    return keras.Sequential(layers, name="conv4")


def algorithm(name: str, net, *, inner_learning_rate: float = INNER_LEARNING_RATE,
              inner_steps: int = 1, test_steps: int | None = None, vectorize: str = "batched",
              meta_learning_rate: float = 1e-3, jit_compile: bool = False):
    """A compiled gradient meta-learner `name` (one of `ALGORITHMS`) wrapping `net`."""
    import keras

    from l2l.algorithms import ANIL, MAML, MetaSGD, Reptile, ScaleAwareMAML

    common = dict(loss="sparse_categorical_crossentropy", inner_steps=inner_steps,
                  inner_learning_rate=inner_learning_rate, test_steps=test_steps,
                  vectorize=vectorize)
    make = {"maml": lambda: MAML(net, **common),
            "fomaml": lambda: MAML(net, first_order=True, **common),
            "anil": lambda: ANIL(net, **common),
            "meta_sgd": lambda: MetaSGD(net, **common),
            "reptile": lambda: Reptile(net, **{**common, "inner_steps": max(inner_steps, 5)}),
            "scale_rates": lambda: ScaleAwareMAML(net, prior=None, scaled_rates=True,
                                                  **common)}
    if name not in make:
        raise ValueError(f"Unknown algorithm {name!r}; choose from {sorted(make)}.")
    model = make[name]()
    optimizer = (keras.optimizers.SGD(1.0) if name == "reptile"
                 else keras.optimizers.Adam(meta_learning_rate))
    model.compile(optimizer, jit_compile=jit_compile, metrics=["accuracy"])
    return model


def random_episodes(batch: int, ways: int, seed: int = 0):
    """`(inputs, query_y)` of `batch` random-image `ways`-way 1-shot episodes, 1 query/class."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(ways, dtype="int32"), (batch, 1))
    images = lambda: rng.integers(0, 256, (batch, ways, 28, 28, 1)).astype("uint8")  # noqa: E731
    return ({"support_x": images(), "support_y": labels,
             "support_mask": np.ones((batch, ways), "float32"), "query_x": images()}, labels)


def median_seconds(step, repeats: int) -> float:
    """Median wall time of `step()` over `repeats` calls, after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)), 5)


def time_plain(ways: int, images: int, filters: int, jit_compile: bool, repeats: int) -> float:
    """Seconds of one supervised `train_on_batch` of `conv4` over `images` images."""
    import keras

    net = conv4(ways, filters)
    net.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (images, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, ways, images).astype("int32")
    seconds = median_seconds(lambda: net.train_on_batch(x, y), repeats)
    keras.backend.clear_session()
    return seconds


def time_update(name: str, ways: int, meta_batch: int, filters: int, vectorize: str,
                jit_compile: bool, repeats: int) -> float:
    """Seconds of one meta-update (`train_on_batch`) of algorithm `name` on conv4."""
    import keras

    model = algorithm(name, conv4(ways, filters), vectorize=vectorize, jit_compile=jit_compile)
    inputs, labels = random_episodes(meta_batch, ways)
    seconds = median_seconds(lambda: model.train_on_batch(inputs, labels), repeats)
    keras.backend.clear_session()
    return seconds


def run(quick: bool = False, seed: int = 0, *, methods: tuple[str, ...] | None = None,
        ways: int = 5, meta_batch: int | None = None, filters: int | None = None,
        repeats: int | None = None, xla: tuple[bool, ...] = (False, True),
        pfor: bool = True, mixed_precision: bool = False) -> dict:
    """Time every (method, engine, XLA) and the plain step; see the module docstring."""
    import keras

    methods = methods or (("maml",) if quick else ALGORITHMS)
    meta_batch = meta_batch or (4 if quick else 32)
    filters = filters or (8 if quick else 64)
    repeats = repeats or (1 if quick else 5)
    images = meta_batch * 2 * ways
    precisions = ("float32", "mixed_float16") if mixed_precision else ("float32",)
    rows, notes = [], []
    settings = {"ways": ways, "shots": 1, "queries_per_class": 1, "meta_batch": meta_batch,
                "filters": filters, "inner_steps": 1, "inner_learning_rate":
                INNER_LEARNING_RATE, "reptile_inner_steps": 5, "repeats": repeats,
                "images_per_update": images}
    for policy in precisions:
        keras.config.set_dtype_policy(policy)
        try:
            for jit in xla:
                plain = time_plain(ways, images, filters, jit, repeats)
                rows.append(row("plain", "seconds_per_step", plain, seed=seed, settings={
                    **settings, "engine": "plain", "xla": jit, "precision": policy}))
                for name in methods:
                    engines = ("batched", "pfor") if pfor and not jit and name != "anil" else (
                        "batched",)
                    for engine in engines:
                        seconds = time_update(name, ways, meta_batch, filters, engine, jit,
                                              repeats)
                        rows.append(row(name, "seconds_per_update", seconds, seed=seed,
                                        settings={**settings, "engine": engine, "xla": jit,
                                                  "precision": policy},
                                        overhead=round(seconds / plain, 2)))
        finally:
            keras.config.set_dtype_policy("float32")
    if pfor and True in xla:
        notes.append("pfor under XLA is not timed: tf.vectorized_map falls back to a while "
                     "loop for per-episode convolutions, and XLA fails to compile its gradient "
                     "(tf2xla conversion failed inside pfor/while_grad).")
    notes.append("ANIL's pfor row is not timed: ANIL's body is shared, so the batched engine "
                 "runs it as one plain network; pfor would only broadcast it back per episode.")
    return {"rows": rows, "settings": settings, "notes": notes}


def speedups(rows: list[dict]) -> dict:
    """`{method: pfor seconds / batched seconds}` at XLA off, float32."""
    by = {(r["method"], r["settings"]["engine"]): r["mean"] for r in rows
          if not r["settings"]["xla"] and r["settings"]["precision"] == "float32"}
    return {m: round(by[m, "pfor"] / by[m, "batched"], 2) for m, e in by if e == "pfor"}


def summarize(result: dict) -> str:
    """One line per method: batched and pfor seconds per update, XLA on/off, overhead."""
    rows = result["rows"]
    lines = ["| method | precision | engine | XLA off s | XLA on s | overhead (off / on) |",
             "|---|---|---|---|---|---|"]
    keys = dict.fromkeys((r["method"], r["settings"]["precision"], r["settings"]["engine"])
                         for r in rows)
    for m, p, e in keys:
        by = {r["settings"]["xla"]: r for r in rows if (r["method"], r["settings"]["precision"],
                                                         r["settings"]["engine"]) == (m, p, e)}
        seconds = [f"{by[x]['mean']:.3f}" if x in by else "-" for x in (False, True)]
        overhead = [f"{by[x]['overhead']:.2f}" if "overhead" in by.get(x, {}) else "-"
                    for x in (False, True)]
        lines.append(f"| {m} | {p} | {e} | {seconds[0]} | {seconds[1]} | "
                     f"{overhead[0]} / {overhead[1]} |")
    return "\n".join(lines)
