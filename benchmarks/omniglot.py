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

from benchmarks import few_shot
from benchmarks.few_shot import plot, summarize  # noqa: F401  (the runner looks them up here)


def run(quick: bool = False, seed: int = 0, *, ways: tuple[int, ...] | None = None,
        shots: tuple[int, ...] | None = None, methods: tuple[str, ...] | None = None,
        minutes_per_cell: float | None = None, test_episodes: int | None = None,
        data_dir: str | None = None, train_ways: int | None = None,
        eval_ways: tuple[int, ...] = (), augment: bool = False, max_shift: float = 2.0,
        max_degrees: float = 10.0, temperature: float | None = None,
        learning_rate: float = 1e-3, warmup_steps: int = 0, total_steps: int | None = None,
        val_alphabets: tuple[str, ...] = (), val_episodes: int = 200,
        steps_per_epoch: int | None = None, filters: tuple[int, ...] | None = None,
        width: int | None = None, batch_size: int | None = None,
        label_smoothing: float = 0.0) -> dict:
    """`few_shot.run` on Omniglot only, over the 5/20-way x 1/5-shot grid (recipe options: see
    `few_shot.run`)."""
    return few_shot.run(
        quick, seed, datasets=("omniglot",),
        ways=ways or ((5,) if quick else (5, 20)), shots=shots or ((1,) if quick else (1, 5)),
        methods=methods or (("protonet",) if quick else ("protonet", "matching", "memory")),
        minutes_per_cell=minutes_per_cell, test_episodes=test_episodes, data_dir=data_dir,
        train_ways=train_ways, eval_ways=eval_ways, augment=augment, max_shift=max_shift,
        max_degrees=max_degrees, temperature=temperature, learning_rate=learning_rate,
        warmup_steps=warmup_steps, total_steps=total_steps, val_alphabets=val_alphabets,
        val_episodes=val_episodes, steps_per_epoch=steps_per_epoch, filters=filters,
        width=width, batch_size=batch_size, label_smoothing=label_smoothing)
