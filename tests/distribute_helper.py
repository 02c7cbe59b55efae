"""Distributed training runs for tests/test_distribute.py, each in its own process.

    python tests/distribute_helper.py mirrored OUT_DIR   # 2 logical CPUs: Mirrored and 1 device
    TF_CONFIG=... python tests/distribute_helper.py worker OUT_DIR    # one multi-worker worker

Every run trains the same tiny MetaModel on the same sinusoid episodes from the same seed
(global batch 16, 3 epochs of 5 steps) with `l2l.checkpoints.BackupAndRestore` writing to
OUT_DIR/ckpt-<run>, and writes OUT_DIR/<run>.npz: its per-epoch losses and final weights.
`mirrored` splits the CPU into two logical devices (before TensorFlow starts, hence a fresh
process), then trains under `MirroredStrategy` over both and once more on one device.

Every run also writes OUT_DIR/<run>-writes.json: each file-system change this process made
under OUT_DIR/ckpt-* (Python's audit events for opening a file to write, renaming, removing,
making a folder, plus HDF5 files opened to write), so the test can tell which worker wrote what.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from l2l.distribute import logical_cpu_devices, strategy_from_env  # noqa: E402

BATCH, STEPS, EPOCHS = 16, 5, 3
WRITES: list[list[str]] = []
"""[event, path relative to OUT_DIR] of every change this process made under OUT_DIR/ckpt-*."""


def record_writes(out_dir: str) -> None:
    """Log this process's writes under `out_dir`'s checkpoint folders into `WRITES`."""
    root = os.path.realpath(out_dir)

    def note(event: str, path) -> None:
        if isinstance(path, (str, bytes, os.PathLike)) and not isinstance(path, int):
            relative = os.path.relpath(os.path.realpath(os.fsdecode(path)), root)
            if relative.startswith("ckpt-"):
                WRITES.append([event, relative])

    def hook(event: str, args: tuple) -> None:
        if event == "open" and args[0] is not None:
            path, mode, flags = args
            writes = any(c in (mode or "") for c in "wax+") if mode else bool(
                (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if writes:
                note("open", path)
        elif event in ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree"):
            note(event, args[1] if event == "os.rename" else args[0])

    sys.addaudithook(hook)
    import h5py  # Keras writes weights through HDF5's C library, which Python does not audit

    opened = h5py.File.__init__

    def init(self, name, mode="r", *args, **kwargs):
        if mode != "r":
            note("h5py", name)
        opened(self, name, mode, *args, **kwargs)

    h5py.File.__init__ = init


def train(strategy, out_dir: str, name: str, checkpoint_name: str | None = None) -> None:
    import keras
    import numpy as np

    from l2l.checkpoints import BackupAndRestore
    from l2l.distribute import replica_batch_size
    from l2l.learners import PooledLearner
    from l2l.models import MetaModel
    from l2l.predictors import ConditionedPredictor
    from l2l.tasks import SinusoidTask

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = MetaModel(PooledLearner(code_dim=16, units=(32,)),
                          ConditionedPredictor(units=(32,)))
        model.compile(keras.optimizers.Adam(1e-2), "mse")
    replica_batch_size(BATCH, strategy)  # the global batch splits evenly
    backup = BackupAndRestore(os.path.join(out_dir, f"ckpt-{checkpoint_name or name}"),
                              config={"seed": 0})
    history = model.fit(SinusoidTask(shots=5, queries=10).dataset(BATCH, seed=0),
                        steps_per_epoch=STEPS, epochs=EPOCHS, callbacks=[backup],
                        shuffle=False, verbose=0)
    np.savez(os.path.join(out_dir, f"{name}.npz"), loss=np.array(history.history["loss"]),
             replicas=strategy.num_replicas_in_sync,
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})


def main(mode: str, out_dir: str) -> None:
    record_writes(out_dir)
    if mode == "mirrored":
        devices = logical_cpu_devices(2)  # first, before TensorFlow initialises
        import tensorflow as tf

        train(tf.distribute.MirroredStrategy(devices), out_dir, "mirrored")
        train(tf.distribute.get_strategy(), out_dir, "single")
    else:
        from l2l.distribute import cluster_spec

        _, index, _ = cluster_spec()
        # Both workers are given one checkpoint folder, as on a shared file system.
        train(strategy_from_env(), out_dir, f"worker{index}", checkpoint_name="workers")
    name = "mirrored" if mode == "mirrored" else f"worker{index}"
    with open(os.path.join(out_dir, f"{name}-writes.json"), "w") as f:
        json.dump(WRITES, f)


if __name__ == "__main__":
    main(*sys.argv[1:3])
