"""Kill training with a real SIGKILL, restart it, and get exactly the uninterrupted run.

`tests/train_helper.py` (started, killed and read with its `start`, `kill_when`, `finish`,
`result`) trains a tiny MetaModel (3 epochs of 4 steps, op determinism on) in a
subprocess. Training on this CPU with `enable_op_determinism` is bit-for-bit deterministic, so
the resumed run must match the uninterrupted one EXACTLY: same per-epoch losses, same final
weights, no tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from train_helper import finish, kill_when, reference, result, start


def state(folder: Path) -> dict:
    return json.loads((folder / "checkpoint.json").read_text())


def test_killed_twice_then_resumed_equals_an_uninterrupted_run(tmp_path, tmp_path_factory):
    ckpt = tmp_path / "ckpt"
    uninterrupted = reference(tmp_path_factory.getbasetemp())  # runs meanwhile
    # 1) SIGKILL in the middle of epoch 2 (0-based epoch 1, after its second batch).
    kill_when(start(tmp_path / "a.npz", "--checkpoint-dir", ckpt, "--stall-at", "1:1"),
              "stalled")
    assert state(ckpt)["epoch"] == 1 and state(ckpt)["step"] == 4
    # 2) Resume, and SIGKILL while epoch 2's checkpoint is half saved: its weights are written
    #    to a temporary file but not yet moved into place.
    out = kill_when(start(tmp_path / "b.npz", "--checkpoint-dir", ckpt, "--stall-saving", 2),
                    "stalled")
    assert "resuming at epoch 1, batch 4" in out
    assert state(ckpt)["epoch"] == 1, "a half-saved checkpoint must not replace the last one"
    assert any(p.name.startswith(".tmp-") for p in ckpt.iterdir())  # the interrupted write
    # 3) Resume again and run to the end.
    out = finish(start(tmp_path / "c.npz", "--checkpoint-dir", ckpt))
    assert "resuming at epoch 1, batch 4" in out
    history, weights, epochs_run = result(tmp_path / "c.npz")
    ref_history, ref_weights, _ = uninterrupted()
    assert epochs_run == 2  # epochs 2 and 3: nothing lost, nothing repeated
    assert history == ref_history and len(history["loss"]) == 3
    for w, r in zip(weights, ref_weights, strict=True):
        np.testing.assert_array_equal(w, r)
    assert state(ckpt)["epoch"] == 3 and state(ckpt)["step"] == 12
    assert sorted(p.name for p in ckpt.iterdir()) == [
        ".lock", "checkpoint.json", "epoch-0003.weights.h5"]  # temporary files cleaned up
