"""The scaling benchmark's quick mode, on its `mirrored` configuration: one fresh process that
splits the CPU into two logical devices and measures `MirroredStrategy` training.

One configuration keeps the test cheap. The `workers` configuration's pieces (a localhost
cluster, `enable_multi_worker_fit`, chief-only output) are exercised by
`tests/test_scaling_docs.py`, which runs the bundled example on two localhost workers, and
`one` differs from `mirrored` only in the strategy its child process makes.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import runner, schema


def test_quick_scaling_measures_two_logical_devices(mnist_dir, tmp_path):
    path, result = runner.run_benchmark(
        "scaling", quick=True, output=tmp_path,
        options={"configurations": ("mirrored",), "batch_size": 2, "steps": 2,
                 "warmup_steps": 1, "data_dir": mnist_dir})
    assert json.loads(path.read_text()) == result and schema.validate(result)
    assert Path(result["plot"]).is_file()
    (only,) = result["rows"]
    assert only["method"] == "mirrored" and only["replicas"] == 2
    assert only["strategy"] == "MirroredStrategy"
    assert only["mean"] > 0 and only["episodes"] == 4 and only["speedup"] is None
