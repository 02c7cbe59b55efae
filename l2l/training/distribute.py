"""Training on several devices or machines with `tf.distribute`, and the little it needs.

A `MetaModel` trains under any `tf.distribute` strategy: create and compile it inside
`strategy.scope()`, then call `fit` on a task's `dataset(batch_size, ...)` as usual. Each batch
of that dataset is a *global* batch; `fit` splits it over the replicas, so the episodes seen, and
(up to floating-point summation order) the training run, are the same on one device or many.

    strategy = strategy_from_env()               # Mirrored / MultiWorkerMirrored / default
    with strategy.scope():
        model = two_digit_model("features")
    model.fit(task.dataset(replica_batch_size(64, strategy) * strategy.num_replicas_in_sync,
                           seed=0), steps_per_epoch=100, epochs=30)

This module adds only what plain TensorFlow lacks for that: a strategy chosen from the
environment with clear errors for a malformed `TF_CONFIG`, a check that the global batch
splits evenly over the replicas (Keras averages per-replica losses, so uneven splits weight
episodes unequally), whether this process is the chief (the one that writes files), and
logical CPU devices for testing all of this on one CPU. See docs/scaling.md.

Example:

>>> from l2l.training.distribute import cluster_spec
>>> cluster_spec({})        # no TF_CONFIG: a single process
(None, None, 1)
"""

from __future__ import annotations

import json
import os

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
                "initialised its devices. Call l2l.distribute.logical_cpu_devices first thing "
                "in the program (before any model, tensor or dataset is made), or run the "
                "distributed part in a fresh process.") from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


class MultiWorkerFitMixin:
    """Lets a `keras.Model` with dict inputs train with `fit` under `MultiWorkerMirroredStrategy`.

    Keras 3 (TensorFlow backend, checked with 3.15) has two bugs on that path, both fixed
    here without changing what is computed:

    - before training, it builds the model from one batch that it first reduces across
      workers with `strategy.reduce`, which cannot take a dict of tensors ("Attempt to
      convert a value ({'support_x': PerReplica...}) to a Tensor", keras-team/keras#20329);
      building needs only shapes and dtypes, so this builds from this replica's part;
    - it averages the per-step logs across workers with `strategy.reduce("MEAN", v, axis=0)`,
      which fails for scalar logs ("Invalid reduction dimension 0 for input with 0
      dimensions", tensorflow/tensorflow#72388); the logs are given that axis, of length one.

    Single-process strategies are untouched. Put the mixin first among the bases:
    `class MyModel(MultiWorkerFitMixin, keras.Model)`; `l2l.models.MetaModel` has it. It wraps
    the `train_step`/`test_step` of the classes after it, so a model that defines its own
    `train_step` takes it through a subclass: `class Distributed(MultiWorkerFitMixin, MyModel)`.
    The first fix overrides a private Keras hook (`_maybe_symbolic_build`); if a later Keras
    renames it, the override is simply not called.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and getattr(self, "_distribute_strategy", None) is not None:
            import tensorflow as tf
            from keras import tree

            strategy = self._distribute_strategy
            for _, _, batches in iterator:
                batch = next(batches)
                data_batch = tree.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, batch)
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, data):
        return _with_worker_axis(self, super().train_step(data))

    def test_step(self, data):
        return _with_worker_axis(self, super().test_step(data))


def _with_worker_axis(model, logs):
    import tensorflow as tf
    from keras import ops, tree

    strategy = getattr(model, "_distribute_strategy", None)
    # The same test Keras uses to pick the failing reduction.
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()):
        return logs

    return tree.map_structure(
        lambda v: ops.reshape(v, (1,)) if len(getattr(v, "shape", (0,))) == 0 else v, logs)
