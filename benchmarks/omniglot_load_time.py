"""Time `load_omniglot`: decoding the zips (cold) against reading the decoded-array cache (warm).

    L2L_DATA_DIR=/work/shared/data python benchmarks/omniglot_load_time.py

Writes `benchmarks/results/omniglot_load_time.json` with the settings, the machine and the
median of `--repeats` runs of each. Every cold run uses a fresh, empty cache folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from l2l.datasets import load_omniglot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+",
                        default=["images_background_small1", "images_background_small2"])
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "omniglot_load_time.json"))
    args = parser.parse_args()

    cold, warm = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            data = load_omniglot(sets=tuple(args.sets), image_size=args.image_size,
                                 cache_dir=cache)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            load_omniglot(sets=tuple(args.sets), image_size=args.image_size, cache_dir=cache)
            warm.append(time.perf_counter() - start)
    result = {
        "command": "python benchmarks/omniglot_load_time.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if k != "out"),
        "sets": args.sets,
        "image_size": args.image_size,
        "images": len(data),
        "classes": data.num_classes,
        "repeats": args.repeats,
        "cold_seconds_median": round(statistics.median(cold), 3),
        "warm_seconds_median": round(statistics.median(warm), 3),
        "cold_seconds": [round(t, 3) for t in cold],
        "warm_seconds": [round(t, 3) for t in warm],
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "cold = md5 + PNG decoding + resize + cache write; warm = md5 + cache read. "
                "Shared machine: other processes were running.",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
