"""docs/scaling.md runs as written: every command block of the page is executed here.

The Python blocks run in order in one process whose CPU is first split into two logical
devices, with `make_strategy("mirrored")` for `"auto"` so they train under a real
`MirroredStrategy`. The shell blocks run as the two workers of a localhost cluster: the
documented addresses become free localhost ports, each worker gets its own output folder, and
the example gets a few steps. Nothing else changes: every replacement below must find its
text on the page, so the page cannot drift from what is tested. The bundled example's
multi-worker run is checked here too: it trains on 2 replicas and only the chief's output
folder holds files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import tensorflow as tf
from distribute_helper import finish

from l2l.training.distribute import localhost_cluster

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "scaling.md"
PYTHON_REPLACEMENTS = [
    ('make_strategy("auto")', 'make_strategy("mirrored")'),
    ("steps_per_epoch=100, epochs=30", "steps_per_epoch=1, epochs=1"),
]
SHORT_EXAMPLE = ("--quick --epochs 1 --steps-per-epoch 2 --minutes 5 --batch-size 8 "
                 "--test-episodes 16 --validation-episodes 16 --verbose 0")
ADDRESSES = '"10.0.0.1:12345", "10.0.0.2:12345"'
OUTPUTS = ("episodes.png", "learning_curve.png", "model.keras", "results.json")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), re.S | re.M)


def replace(text: str, old: str, new: str) -> str:
    assert old in text, f"docs/scaling.md no longer contains {old!r}: update this test"
    return text.replace(old, new)


def _start(command: list[str], cwd) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                          if p))
    env.pop("TF_CONFIG", None)
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_every_command_block_of_the_scaling_page_runs(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv("L2L_DATA_DIR", mnist_dir)
    python = "\n\n".join(blocks("python"))
    for old, new in PYTHON_REPLACEMENTS:
        python = replace(python, old, new)
    script = ("from l2l.training.distribute import logical_cpu_devices\nlogical_cpu_devices(2)\n\n"
              + python + "\n\nassert strategy.num_replicas_in_sync == 2\n"
              "assert len(history['loss']) == 1\nprint('python blocks ran')\n")
    (tmp_path / "blocks.py").write_text(script)
    procs = [_start([sys.executable, "blocks.py"], tmp_path)]

    shell = blocks("bash")
    assert len(shell) == 1, "one shell block, run by both workers"
    cluster = json.loads(localhost_cluster(2)[0])["cluster"]["worker"]
    for index in range(2):
        text = replace(shell[0], ADDRESSES, ", ".join(f'"{a}"' for a in cluster))
        text = replace(text, '"index": 0', f'"index": {index}')
        text = replace(text, "--output-dir runs/two_workers",
                       f"--output-dir {tmp_path / f'worker{index}'} {SHORT_EXAMPLE}")
        procs.append(_start(["bash", "-e", "-c", text], ROOT))
    outputs = finish(procs)

    assert "python blocks ran" in outputs[0]
    assert (tmp_path / "runs" / "exp" / "checkpoint" / "checkpoint.json").exists()
    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    assert sorted(p.name for p in chief.iterdir()) == sorted(OUTPUTS)  # checkpoint deleted
    assert not other.exists(), list(other.rglob("*"))
    results = json.loads((chief / "results.json").read_text())
    multi_worker = tf.distribute.MultiWorkerMirroredStrategy.__name__  # its TensorFlow class
    assert results["strategy"] == multi_worker and results["replicas"] == 2
    assert results["episodes_trained"] == 2 * 8 and 0 <= results["accuracy"] <= 1
    assert "numbers never seen in training" in outputs[1] + outputs[2]
