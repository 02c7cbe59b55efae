"""Provenance for the standalone scripts' JSON: the git commit and the machine that ran them.

(The benchmark suite, `python -m benchmarks`, records its own; see `benchmarks.runner`.)
"""

from __future__ import annotations

import os
import platform
import subprocess

import keras


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
