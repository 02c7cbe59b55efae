"""Time `load_omniglot`: decoding the zips (cold) against reading the decoded-array cache (warm).

Rows: "cold" (md5 + PNG decoding + resize + cache write, into a fresh, empty cache folder each
repeat) and "warm" (md5 + reading that cache), metric "seconds": the median over `repeats`,
± the 95% interval of the mean over repeats (None with one repeat). Full mode: both small
background sets at 28x28, 3 repeats, well under a minute on 2 CPU cores; quick mode: one repeat
of `images_background_small1`. Needs Omniglot in `$L2L_DATA_DIR` (or `-o data_dir=...`).
"""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np

from benchmarks.common import PeakRSS, row
from l2l.evaluation import mean_ci95

FULL_SETS = ("images_background_small1", "images_background_small2")


def run(quick: bool = False, seed: int = 0, *, sets: tuple[str, ...] | None = None,
        image_size: int = 28, repeats: int | None = None, data_dir: str | None = None) -> dict:
    """Time a cold and a warm `load_omniglot` `repeats` times."""
    from l2l.datasets import load_omniglot

    sets = tuple(sets or (FULL_SETS[:1] if quick else FULL_SETS))
    repeats = repeats or (1 if quick else 3)
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    times: dict[str, list[float]] = {"cold": [], "warm": []}
    memory = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            for kind in ("cold", "warm"):
                with PeakRSS() as memory[kind]:
                    start = time.perf_counter()
                    data = load_omniglot(data_dir, sets=sets, image_size=image_size,
                                         cache_dir=cache)
                    times[kind].append(time.perf_counter() - start)
    settings = {"sets": list(sets), "image_size": image_size, "repeats": repeats}
    rows = []
    for kind, seconds in times.items():
        ci = mean_ci95(np.asarray(seconds))[1] if len(seconds) > 1 else None
        rows.append(row(kind, "seconds", statistics.median(seconds), ci95=ci,
                        episodes=0, settings=settings, seed=seed, memory=memory[kind],
                        images=len(data), classes=data.num_classes,
                        seconds_per_repeat=[round(t, 3) for t in seconds]))
    return {
        "rows": rows,
        "settings": settings | {"images": len(data), "classes": data.num_classes},
        "notes": ["cold = md5 + PNG decoding + resize + cache write into an empty cache folder; "
                  "warm = md5 + cache read. mean is the median over repeats; peak RSS is of "
                  "the last repeat."],
    }
