"""Measuring a run: episodes generated per second, peak memory.

Example:

>>> from l2l.training.measure import peak_rss_mb
>>> peak_rss_mb() > 0
True
"""

from __future__ import annotations

import resource
import sys
import time

from l2l.tasks.base import TaskDistribution


def generation_rate(task: TaskDistribution, batch_size: int, seconds: float = 2.0,
                    seed: int = 0) -> float:
    """Episodes per second that `task` generates on one worker (numpy, no tf.data)."""
    start, batches = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        task.episodes(batch_size, seed, batches)
        batches += 1
    return batches * batch_size / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started, in MiB (`resource.getrusage`)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB
