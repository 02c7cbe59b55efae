"""Distributed training runs for the tests of tf.distribute, each in its own process.

    python tests/distribute_helper.py mirrored OUT_DIR   # 2 logical CPUs: Mirrored and 1 device
    TF_CONFIG=... python tests/distribute_helper.py worker OUT_DIR    # one multi-worker worker
        [--name NAME] [--stall-at EPOCH:BATCH] [--metamodel-only]

Every run trains the same tiny MetaModel on the same sinusoid episodes from the same seed
(global batch 16, 3 epochs of 5 steps) with `l2l.training.BackupAndRestore` writing to
OUT_DIR/ckpt-<run> (the workers share OUT_DIR/ckpt-workers, as on a shared file system), and
writes OUT_DIR/<run>.npz: its per-epoch losses (those before an interruption included) and
final weights. Then, unless `--metamodel-only`, it trains every gradient-based algorithm of
`ALGORITHMS` for `ALGORITHM_STEPS` outer steps with plain SGD (which, unlike Adam, shows an
update of the wrong scale) and writes OUT_DIR/<algorithm>-<run>.npz: the loss and all
weights after every step. `mirrored` splits the CPU into two logical devices (before
TensorFlow starts, hence a fresh process), then trains under `MirroredStrategy` over both
(`mirrored`) and once more on one device (`single`). `--stall-at` prints `stalled` and sleeps
after that batch, for a test to kill the process there.

The tests start these processes with `start_runs` and `start_workers` below.

Every process also writes OUT_DIR/<run>-writes.json: each file-system change it made
under OUT_DIR/ckpt-* (Python's audit events for opening a file to write, renaming, removing,
making a folder, plus HDF5 files opened to write), so a test can tell which worker wrote what.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from l2l.training.distribute import (  # noqa: E402
    enable_multi_worker_fit,
    localhost_cluster,
    logical_cpu_devices,
    strategy_from_env,
)

BATCH, STEPS, EPOCHS = 16, 5, 3
ALGORITHM_BATCH, ALGORITHM_STEPS = 8, 3
INNER_LEARNING_RATE, OUTER_LEARNING_RATE = 0.02, 0.05
TIMEOUT = 900  # seconds; generous: the CI machine may be shared
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


# Every gradient-based algorithm class of the first-order and second-order families, with
# its most complete options: class name in l2l.algorithms and its options. A new algorithm
# class joins the strategy tests with one line here. Options of one class share its training
# step, which is what a strategy changes (replica losses, gradient all-reduce), so each
# class runs once (the suite has a 10-minute budget): MAML's first_order and
# ScaleAwareMAML's quadratic prior are left out.
ALGORITHMS = {
    "maml": ("MAML", {}),
    "reptile": ("Reptile", {}),
    "metasgd": ("MetaSGD", {}),
    "anil": ("ANIL", {}),
    "scaled_quartic_rates": ("ScaleAwareMAML", {"prior": "quartic", "scaled_rates": True}),
}


def train(strategy, out_dir: str, name: str, checkpoint_name: str | None = None,
          stall_at: tuple[int, int] | None = None) -> None:
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
    enable_multi_worker_fit(model)
    replica_batch_size(BATCH, strategy)  # the global batch splits evenly
    backup = BackupAndRestore(os.path.join(out_dir, f"ckpt-{checkpoint_name or name}"),
                              config={"seed": 0})
    model.fit(SinusoidTask(shots=5, queries=10).dataset(BATCH, seed=0,
                                                        start_batch=backup.start_batch),
              steps_per_epoch=STEPS, epochs=EPOCHS, callbacks=[backup, Stall(stall_at)],
              shuffle=False, verbose=0)
    np.savez(os.path.join(out_dir, f"{name}.npz"), loss=np.array(backup.history["loss"]),
             replicas=strategy.num_replicas_in_sync,
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})


def train_algorithm(algorithm: str, strategy, out_dir: str, name: str) -> None:
    """`ALGORITHM_STEPS` outer SGD steps of `algorithm`; records loss and weights per step."""
    import keras
    import numpy as np

    import l2l.algorithms
    from l2l.tasks import SinusoidTask

    class_name, options = ALGORITHMS[algorithm]
    keras.utils.set_random_seed(0)
    with strategy.scope():
        net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"),
                                keras.layers.Dense(1)])
        model = getattr(l2l.algorithms, class_name)(
            net, inner_steps=2, inner_learning_rate=INNER_LEARNING_RATE, **options)
        model.compile(keras.optimizers.SGD(OUTER_LEARNING_RATE))
    enable_multi_worker_fit(model)
    record = Record()
    model.fit(SinusoidTask(shots=5, queries=5).dataset(ALGORITHM_BATCH, seed=1),
              steps_per_epoch=ALGORITHM_STEPS, epochs=1, callbacks=[record], shuffle=False,
              verbose=0)
    np.savez(os.path.join(out_dir, f"{algorithm}-{name}.npz"), loss=np.array(record.losses),
             **{f"w{i}": np.stack(w) for i, w in enumerate(zip(*record.weights, strict=True))})


def _callback_base():
    import keras

    return keras.callbacks.Callback


class Record(_callback_base()):
    """The loss and every weight after each training step."""

    def __init__(self):
        super().__init__()
        self.losses, self.weights = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        self.weights.append(self.model.get_weights())


class Stall(_callback_base()):
    """Print `stalled` and sleep after batch `(epoch, batch)` (0-based), to be killed there."""

    def __init__(self, at: tuple[int, int] | None):
        super().__init__()
        self.at, self.epoch = at, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            print("stalled", flush=True)
            time.sleep(TIMEOUT)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("mirrored", "worker"))
    p.add_argument("out_dir")
    p.add_argument("--name", default="worker", help="worker runs: NAME<index>.npz")
    p.add_argument("--stall-at", default=None, help="EPOCH:BATCH, 0-based")
    p.add_argument("--metamodel-only", action="store_true")
    args = p.parse_args(argv)
    stall_at = tuple(map(int, args.stall_at.split(":"))) if args.stall_at else None
    algorithms = () if args.metamodel_only else ALGORITHMS
    record_writes(args.out_dir)
    if args.mode == "mirrored":
        devices = logical_cpu_devices(2)  # first, before TensorFlow initialises
        import tensorflow as tf

        runs = {"mirrored": tf.distribute.MirroredStrategy(devices),
                "single": tf.distribute.get_strategy()}
        for name, strategy in runs.items():
            train(strategy, args.out_dir, name)
        for algorithm in algorithms:
            for name, strategy in runs.items():
                train_algorithm(algorithm, strategy, args.out_dir, name)
    else:
        from l2l.training.distribute import cluster_spec

        _, index, _ = cluster_spec()
        strategy = strategy_from_env()
        # Both workers are given one checkpoint folder, as on a shared file system.
        train(strategy, args.out_dir, f"{args.name}{index}", checkpoint_name="workers",
              stall_at=stall_at)
        for algorithm in algorithms:
            train_algorithm(algorithm, strategy, args.out_dir, f"{args.name}{index}")
    name = "mirrored" if args.mode == "mirrored" else f"{args.name}{index}"
    with open(os.path.join(args.out_dir, f"{name}-writes.json"), "w") as f:
        json.dump(WRITES, f)


# -- starting runs (used by the tests) ----------------------------------------------------


def _start(args: list, tf_config: str | None = None) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = tf_config
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *map(str, args)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def start_workers(out_dir, *args) -> list[subprocess.Popen]:
    """Start the two workers of a localhost `MultiWorkerMirroredStrategy` cluster."""
    return [_start(["worker", out_dir, *args], config) for config in localhost_cluster(2)]


def start_runs(out_dir) -> list[subprocess.Popen]:
    """Start the `mirrored` process and the two workers, all at once."""
    return [_start(["mirrored", out_dir]), *start_workers(out_dir)]


def finish(procs: list[subprocess.Popen]) -> list[str]:
    """Wait for every process to succeed (killing all if one fails); returns their output."""
    outputs = []
    try:
        for proc in procs:
            output, _ = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, output[-4000:]
            outputs.append(output)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return outputs


if __name__ == "__main__":
    main(sys.argv[1:])
