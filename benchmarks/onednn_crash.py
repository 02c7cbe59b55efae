"""How often a fresh process dies in a batched matmul with a contraction of length 1 (oneDNN).

TensorFlow 2.21's oneDNN CPU kernels for batched matmul corrupt the heap on some shapes with
a size-1 dimension: upstream tensorflow/tensorflow#117700 (fixed by PR #120199, merged after
the 2.21.0 release) and #123109. In l2l it showed as a process that died at the first
training step of a gradient meta-learner on 1-D regression (`malloc(): unsorted double
linked list corrupted`, `Fatal Python error: Aborted`, or a segmentation fault): the batched
`Dense` of `l2l.algorithms.batched_layers` multiplied each episode's `x [B, n, 1]` by its own
kernel `[B, 1, H]`. It made CI fail, or hang, by chance.

`l2l.ops.episode_matmul` computes that product as a broadcast product instead. This module
runs the computation in `processes` fresh Python processes per configuration and counts
those that die:

- `einsum` (`oneDNN on`, `oneDNN off`): the step as it was, `tf.einsum("bni,bij->bnj")`;
  off is `TF_ENABLE_ONEDNN_OPTS=0`;
- `einsum, contraction 4`: the same step on 4-feature inputs;
- `l2l.ops.episode_matmul`: the step as it is now.

Each process builds a two-layer batched net (4 episodes of 4 points, 8 hidden units),
takes two MAML inner steps and the outer gradient in one `tf.function`, and calls it three
times. Rows: metric "crash_rate" (crashed processes / processes), with the exact
(Clopper-Pearson) 95% interval as `rate_ci95` and `ci95` None. Full mode: 60 processes per
configuration (18 minutes on 2 CPU cores shared with a test run); quick: 2.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

from benchmarks.common import row

STEP = textwrap.dedent('''
    import sys
    import tensorflow as tf
    from l2l.ops import episode_matmul

    mode, features = sys.argv[1], int(sys.argv[2])
    B, N, H = 4, 4, 8
    x, y = tf.random.normal((B, N, features)), tf.random.normal((B, N, 1))
    k1 = tf.Variable(tf.random.normal((features, H)))
    k2 = tf.Variable(tf.random.normal((H, 1)))

    def matmul(a, w):
        return tf.einsum("bni,bij->bnj", a, w) if mode == "einsum" else episode_matmul(a, w)

    @tf.function
    def step():
        with tf.GradientTape() as outer:
            w1, w2 = tf.tile(k1[None], (B, 1, 1)), tf.tile(k2[None], (B, 1, 1))
            for _ in range(2):
                with tf.GradientTape() as inner:
                    inner.watch([w1, w2])
                    loss = tf.reduce_mean((matmul(tf.tanh(matmul(x, w1)), w2) - y) ** 2)
                g1, g2 = inner.gradient(loss, [w1, w2])
                w1, w2 = w1 - 0.01 * g1, w2 - 0.01 * g2
            loss = tf.reduce_mean((matmul(tf.tanh(matmul(x, w1)), w2) - y) ** 2)
        return outer.gradient(loss, [k1, k2])

    for _ in range(3):
        step()
''')

CONFIGS = (  # (method, mode, features, oneDNN on)
    ("einsum, oneDNN on", "einsum", 1, True),
    ("einsum, oneDNN off", "einsum", 1, False),
    ("einsum, contraction 4", "einsum", 4, True),
    ("l2l.ops.episode_matmul", "episode_matmul", 1, True),
)


def run(quick: bool = False, seed: int = 0, *, processes: int | None = None) -> dict:
    """Run the step in `processes` fresh processes per configuration; count the crashes."""
    processes = processes or (2 if quick else 60)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rows = []
    for method, mode, features, onednn in CONFIGS:
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0",
               "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        codes = [subprocess.run([sys.executable, "-c", STEP, mode, str(features)], env=env,
                                capture_output=True, timeout=300).returncode
                 for _ in range(processes)]
        crashed = sum(code != 0 for code in codes)
        rows.append(row(method, "crash_rate", crashed / processes, seed=seed,
                        settings={"mode": mode, "contraction": features, "onednn": onednn},
                        crashed=crashed, processes=processes,
                        rate_ci95=list(clopper_pearson(crashed, processes)),
                        exit_codes=sorted(set(codes))))
    return {"rows": rows, "settings": {"processes_per_config": processes},
            "notes": _notes(rows)}


def _notes(rows: list[dict]) -> list[str]:
    """What the table does not say: how surely the old path crashes more than each other
    configuration (one-sided Fisher exact test on the crash counts)."""
    old, *others = rows
    return [f"{old['method']} ({old['crashed']} of {old['processes']}) against {r['method']} "
            f"({r['crashed']} of {r['processes']}): one-sided Fisher exact p = "
            f"{fisher_greater(old['crashed'], old['processes'], r['crashed'], r['processes']):.3f}"
            for r in others]


def recompute(result: dict) -> dict:
    """The notes rebuilt from the stored crash counts (nothing is run)."""
    result["notes"] = _notes(result["rows"])
    return result


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher exact p that `k1 / n1` exceeds `k2 / n2` by chance: the probability,
    with every margin of the 2 x 2 table fixed, of `k1` or more events in the first group.

    >>> round(fisher_greater(5, 60, 0, 60), 4)
    0.0287
    """
    events, total = k1 + k2, n1 + n2
    return sum(math.comb(n1, i) * math.comb(n2, events - i)
               for i in range(k1, min(n1, events) + 1)) / math.comb(total, events)


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """The exact two-sided 95% interval of a binomial proportion `k / n`.

    >>> [round(v, 4) for v in clopper_pearson(0, 60)]
    [0.0, 0.0596]
    """
    def probability(p, outcomes):
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in outcomes)

    def solve(increasing, target):  # bisection for increasing(p) = target on [0, 1]
        low, high = 0.0, 1.0
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if increasing(mid) < target else (low, mid)
        return (low + high) / 2

    lower = 0.0 if k == 0 else solve(lambda p: probability(p, range(k, n + 1)), 0.025)
    upper = 1.0 if k == n else solve(lambda p: -probability(p, range(k + 1)), -0.025)
    return lower, upper


def summarize(result: dict) -> str:
    """A Markdown table: crashed processes per configuration, with the 95% interval."""
    lines = ["| configuration | crashed | rate | 95% interval | exit codes |",
             "| --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        low, high = r["rate_ci95"]
        lines.append(f"| {r['method']} | {r['crashed']} of {r['processes']} | "
                     f"{100 * r['mean']:.1f}% | {100 * low:.1f}%-{100 * high:.1f}% | "
                     f"{', '.join(str(c) for c in r['exit_codes'])} |")
    return "\n".join(lines)
