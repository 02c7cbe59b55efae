"""A tiny, deterministic training run, started as a subprocess by the resume and determinism tests.

    python tests/train_helper.py OUT.npz [--checkpoint-dir DIR] [--stall-at EPOCH:BATCH]
                                          [--stall-saving EPOCH]

Trains a small MetaModel on sinusoid episodes with `keras.utils.set_random_seed` and
`tf.config.experimental.enable_op_determinism()`, optionally with
`l2l.training.BackupAndRestore`, and writes the final weights and the per-epoch history to
OUT.npz. It prints `epoch E` after every epoch. `--stall-at` and `--stall-saving` make it print
`stalled` and sleep at a chosen moment (mid-epoch, or between writing a checkpoint's weights
and moving them into place) so that the test can kill it there with a real SIGKILL.

The tests start, kill and read it with `start`, `kill_when`, `finish` and `result` below.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import l2l.training.atomic  # noqa: E402
from l2l.learners import PooledLearner  # noqa: E402
from l2l.models import MetaModel  # noqa: E402
from l2l.predictors import ConditionedPredictor  # noqa: E402
from l2l.tasks import SinusoidTask  # noqa: E402
from l2l.training import BackupAndRestore  # noqa: E402

EPOCHS, STEPS, BATCH = 3, 4, 8
TIMEOUT = 240


def start(*args) -> subprocess.Popen:
    """Start this script with `args` in a fresh Python process."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *map(str, args)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_when(proc: subprocess.Popen, word: str) -> str:
    """Read `proc`'s output until a line is `word`, then SIGKILL it; returns the output."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == word:
            proc.send_signal(signal.SIGKILL)
            proc.wait(TIMEOUT)
            assert proc.returncode == -signal.SIGKILL
            return "".join(lines)
    proc.wait(TIMEOUT)
    raise AssertionError(f"the run ended without printing {word!r}:\n{''.join(lines)}")


def finish(proc: subprocess.Popen) -> str:
    """Wait for `proc` to succeed; returns its output."""
    out, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, out
    return out


_REFERENCE: dict = {}


def reference(folder):
    """Start the uninterrupted run (once per test session); call the result for its outputs.

    Shared by the determinism and resume tests, which both compare against it.
    """
    if "result" not in _REFERENCE and "proc" not in _REFERENCE:
        _REFERENCE["path"] = Path(folder) / "reference.npz"
        _REFERENCE["proc"] = start(_REFERENCE["path"])

    def get():
        if "result" not in _REFERENCE:
            finish(_REFERENCE.pop("proc"))
            _REFERENCE["result"] = result(_REFERENCE["path"])
        return _REFERENCE["result"]

    return get


def result(path) -> tuple[dict, list[np.ndarray], int]:
    """`(history, final weights, epochs run by the last fit)` written by a run."""
    with np.load(path) as f:
        weights = [f[f"w{i}"] for i in range(sum(k.startswith("w") for k in f.files))]
        return json.loads(str(f["history"])), weights, int(f["epochs_run"])


def stall() -> None:
    print("stalled", flush=True)
    time.sleep(600)


class Report(keras.callbacks.Callback):
    def __init__(self, stall_at):
        super().__init__()
        self.stall_at, self.epoch = stall_at, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.stall_at:
            stall()

    def on_epoch_end(self, epoch, logs=None):
        print(f"epoch {epoch + 1}", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--checkpoint-dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stall-at", help="EPOCH:BATCH (0-based) at which to stall")
    p.add_argument("--stall-saving", type=int, help="stall while saving this epoch (1-based)")
    args = p.parse_args(argv)
    stall_at = tuple(map(int, args.stall_at.split(":"))) if args.stall_at else None
    if args.stall_saving:
        target, replace = f"epoch-{args.stall_saving:04d}.weights.h5", os.replace

        def stalling_replace(src, dst):
            if str(dst).endswith(target):
                stall()
            replace(src, dst)

        l2l.training.atomic.os.replace = stalling_replace

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    task = SinusoidTask(shots=5, queries=10)
    model = MetaModel(PooledLearner(code_dim=16, units=(32,)), ConditionedPredictor(units=(32,)))
    model.compile(keras.optimizers.Adam(1e-2), "mse")

    callbacks, start = [Report(stall_at)], 0
    backup = None
    if args.checkpoint_dir:
        backup = BackupAndRestore(args.checkpoint_dir,
                                  config={"seed": args.seed, "batch_size": BATCH})
        callbacks.insert(0, backup)
        start = backup.start_batch
        print(f"resuming at epoch {backup.epoch}, batch {start}", flush=True)
    fit = model.fit(task.dataset(BATCH, seed=args.seed, start_batch=start),
                    steps_per_epoch=STEPS, epochs=EPOCHS, callbacks=callbacks, shuffle=False,
                    verbose=0)
    history = backup.history if backup else fit.history
    np.savez(args.out, history=json.dumps(history), epochs_run=len(fit.history.get("loss", [])),
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})


if __name__ == "__main__":
    main()
