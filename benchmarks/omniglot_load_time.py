"""Time `load_omniglot`: decoding the zips (cold) against reading the decoded-array cache (warm).

Rows: "cold" (md5 + PNG decoding + resize + cache write, into a fresh, empty cache folder each
repeat) and "warm" (md5 + reading that cache), metric "seconds": the median over `repeats`,
with no ± (`ci95` None) and `median_ci95` the order-statistic interval of the median (None below
6 repeats, where no 95% interval exists: `benchmarks.common.median_interval`). Full mode: both small
background sets at 28x28, 3 repeats, well under a minute on 2 CPU cores; quick mode: one repeat
of `images_background_small1`. Needs Omniglot in `$L2L_DATA_DIR` (or `-o data_dir=...`).
"""

from __future__ import annotations

import statistics
import tempfile
import time

from benchmarks.common import PeakRSS, median_interval, row

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
        rows.append(row(kind, "seconds", statistics.median(seconds), **median_interval(seconds),
                        episodes=0, settings=settings, seed=seed, memory=memory[kind],
                        images=len(data), classes=data.num_classes,
                        seconds_per_repeat=[round(t, 3) for t in seconds]))
    return {
        "rows": rows,
        "settings": settings | {"images": len(data), "classes": data.num_classes},
        "notes": ["cold = md5 + PNG decoding + resize + cache write into an empty cache folder; "
                  "warm = md5 + cache read. mean is the median over repeats, shown without "
                  "±: " + MEDIAN_NOTE + " Peak RSS is of the last repeat."],
    }


MEDIAN_NOTE = ("a median's 95% interval is the order-statistic one (median_ci95), which needs "
               "at least 6 repeats.")


def recompute(result: dict) -> dict:
    """The rows' intervals recomputed from the stored `seconds_per_repeat` (nothing is run)."""
    for r in result["rows"]:
        r.update(median_interval(r["seconds_per_repeat"]))
    result["notes"] = [n.replace("mean is the median over repeats; peak RSS",
                                 "mean is the median over repeats, shown without ±: "
                                 + MEDIAN_NOTE + " Peak RSS") for n in result["notes"]]
    return result
