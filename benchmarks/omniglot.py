"""Omniglot N-way K-shot (5/20-way, 1/5-shot) on alphabets never seen in training.

The Omniglot grid of `benchmarks.few_shot` (same data, alphabet-disjoint splits of the small
background sets, models, training loop and stored test episodes; read its docstring for the
protocol): 2 way counts x 2 shot counts x 3 methods (`protonet`, `matching`, `memory`: Kaiser
et al.'s memory module, `l2l.memory_module`) = 12 cells at 1.5 training minutes each, about
24 minutes on 2 CPU cores with scoring. The 5-way 1-shot cells
share their stored test episodes with `few_shot`'s Omniglot cells. Not done: the full
background/evaluation sets, character-disjoint splits, several seeds, training to convergence.
"""

from __future__ import annotations

import inspect

from benchmarks import few_shot
from benchmarks.few_shot import plot, summarize  # noqa: F401  (the runner looks them up here)


def _grid(quick: bool) -> dict:
    """The grid's `ways`, `shots` and `methods` where the caller leaves them at None."""
    return {"ways": (5,) if quick else (5, 20), "shots": (1,) if quick else (1, 5),
            "methods": ("protonet",) if quick else ("protonet", "matching", "memory")}


def run(quick: bool = False, seed: int = 0, **options) -> dict:
    """`few_shot.run` on Omniglot only, over the 5/20-way x 1/5-shot grid: every option of
    `few_shot.run` but `datasets` (its signature is this function's, so the runner's `-o`
    options follow it), with `ways`, `shots` and `methods` defaulting to the grid."""
    unknown = sorted(set(options) - set(run.__signature__.parameters))
    if unknown:
        raise TypeError(f"omniglot.run() got unknown options {unknown}; it takes "
                        f"few_shot.run's options except `datasets`.")
    for name, value in _grid(quick).items():
        if options.get(name) is None:
            options[name] = value
    return few_shot.run(quick, seed, datasets=("omniglot",), **options)


def _signature() -> inspect.Signature:
    own = inspect.signature(few_shot.run, eval_str=True)
    grid = _grid(False)
    params = [p.replace(default=None, annotation=p.annotation | None) if p.name in grid else p
              for p in own.parameters.values() if p.name != "datasets"]
    return own.replace(parameters=params)


run.__signature__ = _signature()
