"""Distributed training runs for tests/test_distribute.py, each in its own process.

    python tests/distribute_helper.py mirrored OUT_DIR   # 2 logical CPUs: Mirrored and 1 device
    TF_CONFIG=... python tests/distribute_helper.py worker OUT_DIR    # one multi-worker worker

Every run trains the same tiny MetaModel on the same sinusoid episodes from the same seed
(global batch 16, 3 epochs of 5 steps) with `l2l.training.BackupAndRestore` writing to
OUT_DIR/ckpt-<run>, and writes OUT_DIR/<run>.npz: its per-epoch losses and final weights.
`mirrored` splits the CPU into two logical devices (before TensorFlow starts, hence a fresh
process), then trains under `MirroredStrategy` over both and once more on one device.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from l2l.training.distribute import logical_cpu_devices, strategy_from_env  # noqa: E402

BATCH, STEPS, EPOCHS = 16, 5, 3


def train(strategy, out_dir: str, name: str, checkpoint_name: str | None = None) -> None:
    import keras
    import numpy as np

    from l2l.learners import PooledLearner
    from l2l.models import MetaModel
    from l2l.predictors import ConditionedPredictor
    from l2l.tasks import SinusoidTask
    from l2l.training import BackupAndRestore
    from l2l.training.distribute import replica_batch_size

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
    if mode == "mirrored":
        devices = logical_cpu_devices(2)  # first, before TensorFlow initialises
        import tensorflow as tf

        train(tf.distribute.MirroredStrategy(devices), out_dir, "mirrored")
        train(tf.distribute.get_strategy(), out_dir, "single")
    else:
        from l2l.training.distribute import cluster_spec

        _, index, _ = cluster_spec()
        # Both workers are given one checkpoint folder, as on a shared file system.
        train(strategy_from_env(), out_dir, f"worker{index}", checkpoint_name="workers")


if __name__ == "__main__":
    main(*sys.argv[1:3])
