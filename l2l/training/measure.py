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
    """Peak resident memory of this process, in MiB.

    On Linux this is the kernel's high-water mark of the process's own memory (`VmHWM` in
    `/proc/self/status`), which starts afresh at `exec`: `resource.getrusage`'s `ru_maxrss`
    does not, so a program started from a large parent would report the parent's peak as its
    own. Elsewhere, `ru_maxrss`.
    """
    peak = status_mb("VmHWM:")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def status_mb(field: str) -> float | None:
    """A memory field of `/proc/self/status` (e.g. "VmHWM:", "VmRSS:") in MiB, if readable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
