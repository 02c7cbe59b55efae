"""The bundled example runs end to end in quick mode and leaves a loadable model behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from test_tensorboard import event_tags

import l2l

ROOT = Path(__file__).resolve().parents[1]


def test_quick_example_trains_evaluates_and_saves(mnist_dir, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "L2L_DATA_DIR": mnist_dir, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # Started straight from this (large) test worker: the example's peak_rss_mb is its own
    # (VmHWM), not the worker's that ru_maxrss would carry across exec.
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mnist_two_digit.py"), "--quick",
         "--test-episodes", "200", "--output-dir", str(out), "--figures-dir",
         str(tmp_path / "figures"), "--verbose", "0", "--tensorboard", str(tmp_path / "tb")],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "numbers never seen in training: accuracy" in done.stdout
    results = json.loads((out / "results.json").read_text())
    # Test episodes are half "same": answering one way scores 0.5. README reports about 91%
    # for this run (fixed steps and seed); 0.8 leaves room for platform noise.
    assert results["test_episodes"] == 200 and 0.8 <= results["accuracy"] <= 1.0, results
    assert results["episodes_trained"] == 4 * 50 * 32 and results["peak_rss_mb"] < 2048
    tags = event_tags(tmp_path / "tb")  # --tensorboard: scalars per epoch, episode pictures
    assert tags["train"]["epoch_accuracy"] == 4 and tags["validation"]["epoch_loss"] == 4
    assert tags["episodes"]["episodes"] == 4
    for name in ("episodes.png", "learning_curve.png"):
        assert (out / name).stat().st_size > 0
        assert (tmp_path / "figures" / f"two_digit_{name}").stat().st_size > 0
    model = l2l.load_model(out / "model.keras")
    inputs = {k: np.zeros((1, n, 28, 56, 1), "uint8") for k, n in (("support_x", 1),
                                                                     ("query_x", 2))}
    inputs.update(support_y=np.ones((1, 1), "float32"), support_mask=np.ones((1, 1), "float32"))
    assert model.predict(inputs, verbose=0).shape == (1, 2)
