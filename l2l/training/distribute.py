# Over 300 lines: the strategy helpers and the one multi-worker fit workaround they need,
# which share the cluster reading; the workaround is isolated in enable_multi_worker_fit.
"""Training on several devices or machines with `tf.distribute`, and the little it needs.

A `MetaModel` or gradient-based meta-learner trains under any `tf.distribute` strategy:
create and compile it inside `strategy.scope()`, then call `fit` on a task's
`dataset(batch_size, ...)` as usual. Each batch of that dataset is a *global* batch; `fit`
splits it over the replicas, so the episodes seen, and (up to floating-point summation order)
the training run, are the same on one device or many.

    strategy = make_strategy("auto")             # MultiWorkerMirrored / Mirrored / one device
    with strategy.scope():
        model = two_digit_model("features")
    enable_multi_worker_fit(model)               # two Keras bugs; a no-op off multi-worker
    replica_batch_size(64, strategy)             # 64 episodes per step, split evenly
    model.fit(task.dataset(64, seed=0), steps_per_epoch=100, epochs=30)

This module adds only what plain TensorFlow lacks for that: a strategy chosen from the
environment or by name with clear errors for a malformed `TF_CONFIG`, a check that the global
batch splits evenly over the replicas (Keras averages per-replica losses, so uneven splits
weight episodes unequally), whether this process is the chief and where it writes
(`is_chief`, `output_dir`), a workaround for two Keras bugs under multi-worker training
(`enable_multi_worker_fit`), and logical CPU devices and localhost clusters for trying all of
this on one CPU. See docs/scaling.md.

Example:

>>> from l2l.training.distribute import cluster_spec
>>> cluster_spec({})        # no TF_CONFIG: a single process
(None, None, 1)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator

from l2l.errors import invalid_value
from l2l.keras_compat import build_from_local_batch

TF_CONFIG = "TF_CONFIG"


def cluster_spec(environ=None) -> tuple[str | None, int | None, int]:
    """`(task_type, task_index, number_of_workers)` from `TF_CONFIG`, validated.

    Without `TF_CONFIG` this is `(None, None, 1)`. Raises a `ValueError` that names the
    problem when `TF_CONFIG` is not the JSON `tf.distribute` expects, e.g.

        {"cluster": {"worker": ["host1:12345", "host2:12345"]},
         "task": {"type": "worker", "index": 0}}
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(TF_CONFIG)
    if not raw:
        return None, None, 1
    example = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"{TF_CONFIG} is not valid JSON ({e}); it should look like "
                         f"{example}.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError(f"{TF_CONFIG} needs a 'cluster' and a 'task' entry, got {raw!r}; it "
                         f"should look like {example}.")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in cluster:
        raise ValueError(f"{TF_CONFIG} task type {kind!r} is not in the cluster "
                         f"{sorted(cluster)}; set task.type to one of them.")
    if not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ValueError(f"{TF_CONFIG} task index {index!r} is out of range: the cluster has "
                         f"{len(cluster[kind])} {kind!r} task(s), indexed from 0.")
    workers = sum(len(cluster.get(k, [])) for k in ("chief", "worker"))
    return kind, index, workers


def is_chief(environ=None) -> bool:
    """Whether this process writes checkpoints and results: the chief, or worker 0 without one.

    Example:

    >>> is_chief({"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:1"]}, '
    ...                        '"task": {"type": "worker", "index": 1}}'})
    False
    """
    kind, index, _ = cluster_spec(environ)
    if kind is None or kind == "chief":
        return True
    environ = os.environ if environ is None else environ
    has_chief = "chief" in json.loads(environ[TF_CONFIG])["cluster"]
    return kind == "worker" and index == 0 and not has_chief


def strategy_from_env():
    """The strategy for this process: multi-worker, multi-GPU, or the default (one device).

    - `TF_CONFIG` lists more than one worker: `MultiWorkerMirroredStrategy` (one process per
      worker; start the same script on every machine with its own `TF_CONFIG`).
    - Otherwise, more than one GPU is visible: `MirroredStrategy` over all of them.
    - Otherwise: the default strategy (`strategy.scope()` does nothing).
    """
    import tensorflow as tf

    _, _, workers = cluster_spec()
    if workers > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def replica_batch_size(global_batch_size: int, strategy=None) -> int:
    """Episodes per replica, checking that `global_batch_size` splits evenly.

    Example:

    >>> replica_batch_size(32)      # the default strategy has one replica
    32
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if global_batch_size < 1 or global_batch_size % replicas:
        raise ValueError(
            f"The global batch size {global_batch_size} does not split evenly over "
            f"{replicas} replicas; use a multiple of {replicas} (e.g. "
            f"{replicas * max(1, round(global_batch_size / replicas))}), so every replica gets "
            "the same number of episodes.")
    return global_batch_size // replicas


def logical_cpu_devices(count: int) -> list[str]:
    """Split the CPU into `count` logical devices and return their names.

    For trying `MirroredStrategy(devices)` on a machine without GPUs (tests, laptops).
    TensorFlow fixes its devices when it first uses them, so call this first thing in the
    program, before any model, tensor or dataset is made.
    """
    import tensorflow as tf

    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if len(current or [None]) != count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
        except RuntimeError as e:
            raise RuntimeError(
                f"Cannot split the CPU into {count} logical devices: TensorFlow has already "
                "initialised its devices. Call l2l.training.distribute.logical_cpu_devices "
                "first thing in the program (before any model, tensor or dataset is made), or "
                "run the distributed part in a fresh process.") from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]



def make_strategy(name: str = "auto"):
    """The strategy called `name`: `"auto"`, `"one"` or `"mirrored"` (command-line choices).

    - `"auto"`: `strategy_from_env()`: `TF_CONFIG` with several workers gives
      `MultiWorkerMirroredStrategy`, several visible GPUs give `MirroredStrategy`, otherwise
      one device.
    - `"one"`: the default strategy, one device (an error when `TF_CONFIG` names a cluster:
      every worker would train its own copy).
    - `"mirrored"`: `MirroredStrategy` over every local GPU, or over the logical CPU devices
      made by `logical_cpu_devices` when there is no GPU (one replica if the CPU is whole).

    Example:

    >>> make_strategy("one").num_replicas_in_sync
    1
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise invalid_value("strategy", name, f"one of {', '.join(STRATEGIES)}")
    if name == "auto":
        return strategy_from_env()
    if cluster_spec()[2] > 1:
        raise invalid_value("strategy", name, "'auto' when TF_CONFIG names a cluster",
                            "use --strategy auto (multi-worker), or unset TF_CONFIG")
    if name == "one":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


STRATEGIES = ("auto", "one", "mirrored")


def localhost_cluster(workers: int) -> list[str]:
    """`TF_CONFIG` values of a cluster of `workers` processes on this machine, one per worker.

    Each names free localhost ports; start one process per value, all at about the same
    time (they wait for each other). For tests, benchmarks and trying multi-worker training
    on one machine.

    Example:

    >>> import json
    >>> configs = localhost_cluster(2)
    >>> [json.loads(c)["task"] for c in configs]
    [{'type': 'worker', 'index': 0}, {'type': 'worker', 'index': 1}]
    """
    import socket

    sockets = [socket.socket() for _ in range(workers)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        ports = [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(workers)]


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, environ=None) -> Iterator[str]:
    """The folder this process writes its outputs to: `path` on the chief, else a scratch one.

    Under a multi-worker strategy every worker runs the same script, and saving a model or a
    checkpoint is a collective operation that every worker must take part in; only the chief
    (see `is_chief`) keeps what it writes. The others write to a temporary folder that is
    deleted when the block ends (the pattern of TensorFlow's multi-worker guide).

    Example:

    >>> with output_dir("runs/x", {}) as folder:   # no TF_CONFIG: this process is the chief
    ...     folder
    'runs/x'
    """
    if is_chief(environ):
        yield os.fspath(path)
        return
    scratch = tempfile.mkdtemp(prefix="l2l-worker-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def is_multi_worker(strategy) -> bool:
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` spanning more than one worker."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    spec = strategy.cluster_resolver.cluster_spec()
    return sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs) > 1


def chief_value(value: float, strategy) -> float:
    """The chief's `value`, returned on every worker of `strategy` (the value itself off
    multi-worker strategies).

    For decisions every worker must take alike, such as stopping on a time budget: workers'
    clocks differ, and a worker that stopped alone would leave the others waiting. A collective
    operation: every worker must call it at the same point.
    """
    if not is_multi_worker(strategy):
        return value
    import tensorflow as tf

    share = value / len(strategy.extended.worker_devices) if is_chief() else 0.0
    per_replica = strategy.run(lambda: tf.constant(share, tf.float64))
    return float(strategy.reduce("SUM", per_replica, axis=None))


def enable_multi_worker_fit(model):
    """Let `model.fit` and `evaluate` run under a multi-worker `MultiWorkerMirroredStrategy`.

    Keras 3 (TensorFlow backend; checked with Keras 3.15.1, TensorFlow 2.21) has two bugs on
    that path, which this works around without changing what is computed:

    - before training it builds the model from one batch that it first reduces across workers
      with `strategy.reduce`, which cannot take a dict of tensors such as an episode's inputs
      ("Attempt to convert a value ({'support_x': PerReplica...}) to a Tensor",
      keras-team/keras#20329); building needs only shapes and dtypes, so the model is built
      from this worker's part of the batch instead;
    - it averages every step's logs across workers with `strategy.reduce("MEAN", v, axis=0)`,
      which fails for scalar logs ("Invalid reduction dimension 0 for input with 0
      dimensions", tensorflow/tensorflow#72388); the logs are given that axis, of length one.

    Call it on a model created (and compiled) in the strategy's scope, before `fit`; it
    returns the model. It changes nothing unless that strategy spans several workers, so
    calling it always is safe: `MetaModel`, the gradient-based algorithms and models of your
    own stay plain Keras models, and only this one model's steps are wrapped.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> enable_multi_worker_fit(model) is model      # one device: nothing to do
    True
    """
    if not is_multi_worker(model.distribute_strategy) or _ENABLED in vars(model):
        return model
    model.__dict__[_ENABLED] = True  # plain attribute, outside Keras's tracking
    build_from_local_batch(model)
    model.train_step = _logs_with_worker_axis(model.train_step)
    model.test_step = _logs_with_worker_axis(model.test_step)
    return model


_ENABLED = "_l2l_multi_worker_fit"


def _logs_with_worker_axis(step):
    from keras import ops, tree

    @functools.wraps(step)
    def wrapped(data):
        return tree.map_structure(
            lambda v: ops.reshape(v, (1,)) if len(getattr(v, "shape", (0,))) == 0 else v,
            step(data))

    return wrapped
