"""Where l2l meets Keras beyond its documented API: every such place, in one module.

- `update_loss_metric`: public API only. A `train_step` that does not go through
  `Model.compute_loss` (Reptile's update, ABML's ELBO, the block-diagonal Newton step) must
  still report its loss where `fit` reads it: the model's loss tracker, which Keras exposes
  publicly only as the metric named "loss" in `model.metrics` (keras.io, "Customizing what
  happens in fit()"). `update_loss_metric` finds it there, so no private attribute
  (`_loss_tracker`) is touched.
- `shown_as_raised`, `resume_fit_at`, `build_from_local_batch`: the only private Keras APIs
  l2l uses, each for a named upstream limitation, checked with Keras 3.15.1. If a later Keras
  renames one, the tests of resuming, multi-worker training and error messages fail first.

Example:

>>> import keras
>>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> update_loss_metric(model, 2.0)
>>> float(next(m for m in model.metrics if m.name == "loss").result())
2.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by l2l.errors, which must not load Keras (and TensorFlow)
    import keras


def update_loss_metric(model: keras.Model, loss, sample_weight=None) -> None:
    """Add `loss` to `model`'s loss tracker (the metric named "loss" of a compiled model)."""
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss, sample_weight=sample_weight)
            return


def shown_as_raised(error_class: type) -> type:
    """Mark `error_class` so that Keras shows it as raised, even from inside a layer's `call`.

    Keras 3 rewrites an error raised in `call` into "Exception encountered when calling
    X.call()" followed by every argument, unless the error carries the private mark
    `_keras_call_info_injected` (keras/src/utils/traceback_utils.py). l2l's messages already
    name the field and the fix, so they pass through unchanged.
    """
    error_class._keras_call_info_injected = True
    return error_class


def resume_fit_at(model: keras.Model, epoch: int | None) -> None:
    """Make the running `fit` continue at `epoch` (None: back to its `initial_epoch`).

    Private: `fit` reads `model._initial_epoch` after the callbacks' `on_train_begin`, and
    Keras's own `keras.callbacks.BackupAndRestore` resumes through it; there is no public hook
    (a callback cannot change `fit`'s `initial_epoch`; keras-team/keras#19179).
    """
    model._initial_epoch = epoch


def build_from_local_batch(model: keras.Model) -> None:
    """Build `model` under a multi-worker strategy from this worker's part of the first batch.

    Private, a workaround for keras-team/keras#20329: `fit` calls the hook
    `_maybe_symbolic_build(iterator=...)`, which reduces a distributed batch across workers
    before building; this instance's hook takes the local part of the batch instead and hands
    it to Keras's own hook. If a later Keras renames the hook, this one is never called (and
    that Keras may not need it).
    """
    import tensorflow as tf
    from keras import tree

    keras_build = model._maybe_symbolic_build
    strategy = model.distribute_strategy

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:  # what Keras's hook reads: (begin, end, iterator)
                data_batch = tree.map_structure(local, next(batches))
                break
        return keras_build(iterator=None, data_batch=data_batch)

    model._maybe_symbolic_build = build
