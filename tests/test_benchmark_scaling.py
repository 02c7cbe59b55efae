"""The scaling benchmark's quick mode: two localhost workers measured, the chief's record kept.

Only the `workers` configuration runs here (two processes, the costliest path: a localhost
cluster, `enable_multi_worker_fit`, the chief-only record); `one` and `mirrored` differ from it
only in the strategy their child process makes.
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from benchmarks import runner, schema


def test_quick_scaling_measures_two_workers(mnist_dir, tmp_path):
    path, result = runner.run_benchmark(
        "scaling", quick=True, output=tmp_path,
        options={"configurations": ("workers",), "batch_size": 2, "steps": 2,
                 "warmup_steps": 1, "data_dir": mnist_dir})
    assert json.loads(path.read_text()) == result and schema.validate(result)
    assert Path(result["plot"]).is_file()
    (only,) = result["rows"]
    assert only["method"] == "2 workers" and only["replicas"] == 2
    assert only["strategy"] == tf.distribute.MultiWorkerMirroredStrategy.__name__
    assert only["mean"] > 0 and only["episodes"] == 4 and only["speedup"] is None
