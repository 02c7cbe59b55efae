"""The Keras boundary of l2l's models: checked data in, l2l errors out, even under XLA.

`CheckedModel` is a mixin of `l2l.models.MetaModel` and (as `CheckedWrapper`, which checks the
inputs of a wrapped per-example model) `l2l.algorithms.GradientMetaLearner`. Their steps check
every input with `l2l.validation`'s in-graph assertions, and this module makes those checks
hold at the Keras entry points (`fit`, `evaluate`, `predict` and the `*_on_batch` methods):

- A failed assertion reaches Keras as `InvalidArgumentError: Graph execution error`;
  `l2l_errors` raises it again as the `l2l.errors.InvalidValueError` it carries.
- XLA (`jit_compile=True`, Keras's `"auto"` choice on a GPU) compiles assertions away, so a
  model compiled with XLA checks the values of its data *before* they enter the compiled
  step: arrays at once, a `tf.data.Dataset` in its own pipeline (a `map`, which XLA never
  compiles), a Python generator or `keras.utils.PyDataset` batch by batch. The checks are the
  same functions with the same messages; only where they run differs.
- An operation XLA cannot compile (e.g. `ResizeArea`, behind `keras.layers.Resizing(...,
  interpolation="area")`) fails the first compiled step with a raw graph error;
  `l2l_errors` raises it as an `InvalidValueError` for `jit_compile` that names the operation.
- `fit` stops at the first non-finite loss (`l2l.callbacks.StopOnNonFiniteLoss`).

What the XLA-side checks cost: nothing per step in `fit` on a `tf.data.Dataset` (they run in
the input pipeline, ahead of the step) and one call per `fit` on arrays; but each
`train_on_batch` call under XLA pays one graph call, about 0.8 ms on a 2-core CPU. That is
noise for an image model and a third of a tiny model's step: sinusoid MAML's
`train_on_batch` takes 3.1 ms with it against 2.2 ms without (`benchmarks/results/
sinusoid-maml_speed.json` times 3.3 ms).

Example:

>>> import numpy as np, keras
>>> from l2l.presets import classification_model
>>> model = classification_model("protonet", ways=2, jit_compile=True)
>>> inputs = {"support_x": np.zeros((1, 2, 8, 8, 1)), "support_y": np.array([[0, 5]]),
...           "support_mask": np.ones((1, 2)), "query_x": np.zeros((1, 2, 8, 8, 1))}
>>> model.fit(inputs, np.array([[0, 1]]), verbose=0)
Traceback (most recent call last):
...
l2l.errors.InvalidValueError: Received an invalid value for `support_y`: ...labels in 0..1, ...
"""

from __future__ import annotations

import contextlib
import re

import keras
import tensorflow as tf

from l2l.episodes import QUERY_X, SUPPORT_X, SUPPORT_Y
from l2l.errors import InvalidValueError, invalid_value
from l2l.validation import (
    ASSERTION_END,
    ASSERTION_START,
    check_episode_inputs,
    checked_episode,
    checked_example_shape,
    checked_labels,
    checked_targets,
    class_count,
)


@contextlib.contextmanager
def l2l_errors():
    """Re-raise a failed l2l assertion from a traced step as the `InvalidValueError` it says,
    and XLA's refusal of an operation as an `InvalidValueError` naming it and the fix."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        message = assertion_message(error.message)
        if message is not None:
            raise InvalidValueError(message) from None
        refused = xla_unsupported_operation(error.message)
        if refused is None:
            raise
        raise invalid_value(
            "jit_compile", True, f"False for this model: one of its layers runs {refused}, "
            "which XLA cannot compile", "compile with jit_compile=False (Keras's 'auto' is "
            "False on a CPU), or replace the layer that runs it") from None


def xla_unsupported_operation(text: str) -> str | None:
    """The operation XLA could not compile, from TensorFlow's error text, or None.

    >>> xla_unsupported_operation("Detected unsupported operations when trying to compile "
    ...     "graph __inference_one_step_on_data_16080[] on XLA_CPU_JIT: ResizeArea (No ...")
    'ResizeArea'
    """
    found = re.search(r"Detected unsupported operations when trying to compile graph \S* on "
                      r"XLA_\w+: (\w+)", text)
    return None if found is None else found.group(1)


def assertion_message(text: str) -> str | None:
    """The l2l message inside TensorFlow's text of a failed assertion, or None."""
    found = re.search(re.escape(ASSERTION_START) + r"\] \[(.*?)\] \[" + re.escape(ASSERTION_END),
                      text, re.S)
    if found is None:
        return None
    return re.sub(r"\] \[", "", found.group(1))


class CheckedModel:
    """Mixin of l2l's models: failed input checks raise l2l errors from `fit`, `evaluate`,
    `predict` and the `*_on_batch` methods, with XLA or without, and `fit` stops at the first
    non-finite loss.

    `fit` adds `l2l.callbacks.StopOnNonFiniteLoss` to the callbacks unless they hold one (or
    Keras's `TerminateOnNaN`); set `stop_on_non_finite_loss = False` on a model to train on
    through NaN losses. A subclass says what it predicts for given inputs with
    `output_spec` (used to tell class logits from regression outputs).
    """

    stop_on_non_finite_loss = True

    @property
    def example_shape(self) -> tuple | None:
        """The shape of one example this model was built for (None before it is built)."""
        raise NotImplementedError

    def output_spec(self, inputs: dict) -> keras.KerasTensor:
        """The model's output `[B, Q, ...]` for episode inputs of these shapes and dtypes."""
        return self.compute_output_spec({k: _spec(v) for k, v in inputs.items()})

    # -- the Keras entry points ----------------------------------------------------------------

    def fit(self, x=None, y=None, *args, callbacks=None, validation_data=None, **kwargs):
        """`keras.Model.fit`, stopped at a non-finite loss, failed checks raised as l2l errors."""
        from l2l.callbacks import StopOnNonFiniteLoss

        x, y = self._checked_data(x, y)
        if isinstance(validation_data, (tuple, list)) and validation_data:
            validation_data = tuple(self._checked_data(*validation_data[:2])) + tuple(
                validation_data[2:])
        elif validation_data is not None:
            validation_data = self._checked_data(validation_data, None)[0]
        callbacks = list(callbacks or [])
        guarded = any(isinstance(c, (StopOnNonFiniteLoss, keras.callbacks.TerminateOnNaN))
                      for c in callbacks)
        if self.stop_on_non_finite_loss and not guarded:
            callbacks.insert(0, StopOnNonFiniteLoss())  # first: it stops before others save
        with l2l_errors():
            return super().fit(x, y, *args, callbacks=callbacks,
                               validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with failed checks raised as l2l errors."""
        x, y = self._checked_data(x, y)
        with l2l_errors():
            return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, with failed checks raised as l2l errors."""
        x, _ = self._checked_data(x, None)
        with l2l_errors():
            return super().predict(x, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        """`keras.Model.train_on_batch`, with failed checks raised as l2l errors."""
        x, y = self._checked_data(x, y)
        with l2l_errors():
            return super().train_on_batch(x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        """`keras.Model.test_on_batch`, with failed checks raised as l2l errors."""
        x, y = self._checked_data(x, y)
        with l2l_errors():
            return super().test_on_batch(x, y, *args, **kwargs)

    def predict_on_batch(self, x):
        """`keras.Model.predict_on_batch`, with failed checks raised as l2l errors."""
        x, _ = self._checked_data(x, None)
        with l2l_errors():
            return super().predict_on_batch(x)

    # -- checking the data ---------------------------------------------------------------------

    def checked_batch(self, x: dict, y=None, output: keras.KerasTensor | None = None):
        """`(x, y)`, one batch of episode inputs and targets, with every value check attached
        (run at once when eager): the checks this model's traced step runs, gathered in one
        place so that they can run outside an XLA-compiled step. `output` is
        `output_spec(x)`, if known."""
        owner = f"this {type(self).__name__}"
        check_episode_inputs(x, owner)  # before output_spec, which reads the inputs' shapes
        output = self.output_spec(x) if output is None else output
        x = checked_episode(x, self.example_shape, owner)  # tensors, the episode's inputs only
        classes = class_count(x[SUPPORT_Y], output)
        if classes is not None:
            x[SUPPORT_Y] = checked_labels(x[SUPPORT_Y], classes, SUPPORT_Y, owner)
        if y is not None:
            y = checked_targets(tf.convert_to_tensor(y), output, owner)
        return x, y

    def _checked_data(self, x, y):
        """`(x, y)` as given, after the checks that must run before Keras traces a step:
        example shapes against the built model's, and under XLA every value check."""
        self._check_example_shapes(x)
        if not self._compiled_with_xla():
            return x, y
        with l2l_errors():
            if isinstance(x, tf.data.Dataset):
                spec = x.element_spec[0] if isinstance(x.element_spec, tuple) else x.element_spec
                if not isinstance(spec, dict):
                    return x, y  # not episodes: the step's static checks will say so
                output = self.output_spec(spec)  # outside the pipeline: it may build the model

                def check(*element):
                    checked = self.checked_batch(element[0], _second(element), output)
                    return checked[0] if len(element) == 1 else (*checked, *element[2:])

                return x.map(check), y
            if isinstance(x, keras.utils.PyDataset):
                return _CheckedPyDataset(x, self._checked_now), y
            if isinstance(x, dict):
                self._checked_now(x, y)
                return x, y
            if hasattr(x, "__next__"):  # a Python generator or iterator of batches
                return (self._checked_now(*_as_tuple(batch)) for batch in x), y
        return x, y

    def _checked_now(self, *element):
        """One batch `(x, y, ...)` (or `x`) of arrays, checked at once; returned as given.

        The checks run as one graph call (a `tf.function` without XLA, so its assertions
        hold), one per input signature, so a `train_on_batch` loop pays about a tenth of a
        millisecond per step rather than an eager op per check.
        """
        x, y = element[0], _second(element)
        if not isinstance(x, dict):
            return element[0] if len(element) == 1 else element
        x = {k: tf.convert_to_tensor(v) for k, v in x.items()}
        y = None if y is None else tf.convert_to_tensor(y)
        signature = tuple((k, tuple(v.shape), v.dtype.name) for k, v in sorted(x.items())) + (
            None if y is None else (tuple(y.shape), y.dtype.name),)
        functions = self.__dict__.setdefault(_CHECK_FUNCTIONS, {})  # outside Keras's tracking
        if signature not in functions:
            owner = f"this {type(self).__name__}"
            check_episode_inputs(x, owner)  # static: raises here, not inside a trace
            output = self.output_spec(x)  # eagerly: it may build the model
            functions[signature] = tf.function(
                lambda x, y: self.checked_batch(x, y, output), jit_compile=False)
        with l2l_errors():
            functions[signature](x, y)
        return element[0] if len(element) == 1 else element

    def _compiled_with_xla(self) -> bool:
        return getattr(self, "jit_compile", False) is True and not getattr(
            self, "run_eagerly", False)

    def _check_example_shapes(self, x) -> None:
        """Example shapes of `x` (a dict of arrays or a `tf.data.Dataset`) against the built
        model's, before Keras traces a step for them (where a relaxed trace could not tell)."""
        if isinstance(x, tf.data.Dataset):
            x = x.element_spec[0] if isinstance(x.element_spec, tuple) else x.element_spec
        if not isinstance(x, dict) or self.example_shape is None:
            return
        owner = f"this {type(self).__name__}"
        for key in (SUPPORT_X, QUERY_X):
            if key in x and hasattr(x[key], "shape") and len(x[key].shape) >= 2:
                checked_example_shape(self.example_shape, x[key], owner, key)



class CheckedWrapper(CheckedModel):
    """Mixin of a model that wraps one per-example Keras model, `self.model` (one example in,
    one prediction out), built for the example shape of its first inputs:
    `l2l.algorithms.GradientMetaLearner`.

    The model sets `self._example_shape = None` when made and says in `_build_state` what
    else it builds once the wrapped model is built (called from `_build_for`).
    """

    def checked_inputs(self, inputs) -> dict:
        """`inputs` as tensors, checked by `l2l.validation` (static checks, and in-graph value
        checks attached to the returned tensors): `checked_batch`'s checks, run in the step."""
        return self.checked_batch(inputs)[0]

    def output_spec(self, inputs: dict) -> keras.KerasTensor:
        """The wrapped model's predictions `[B, Q, ...]` for episodes of these inputs' shapes
        (building the model for their example shape on its first call)."""
        example_shape = tuple(inputs[SUPPORT_X].shape[2:])
        if not self.built:
            self._build_for(example_shape)
        elif self._example_shape is None and None not in example_shape:
            self._example_shape = tuple(int(d) for d in example_shape)  # built before: record
        example_shape = self._example_shape or example_shape
        outputs = self.model.compute_output_spec(keras.KerasTensor(
            (None, *example_shape), keras.backend.standardize_dtype(inputs[SUPPORT_X].dtype)))
        return keras.KerasTensor((None, *outputs.shape), outputs.dtype)

    # -- the example shape it is built for ------------------------------------------------------

    def _build_for(self, example_shape):
        self._example_shape = tuple(int(d) for d in example_shape)
        if not self.model.built:
            self.model.build((None, *self._example_shape))
        if not self.built:
            self._build_state()

    @property
    def example_shape(self) -> tuple | None:
        """The shape of one example the wrapped model was built for, or None before."""
        return self._example_shape

    def get_build_config(self):
        """The example shape it was built for, saved with the model (None before)."""
        if self._example_shape is None:
            return None
        return {"example_shape": list(self._example_shape)}

    def build_from_config(self, config):
        """Build for the saved example shape when a model is loaded."""
        self._build_for(config["example_shape"])


_CHECK_FUNCTIONS = "_l2l_check_functions"


class _CheckedPyDataset(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` whose batches are checked by `check` as they are read."""

    def __init__(self, dataset: keras.utils.PyDataset, check):
        super().__init__(workers=dataset.workers, use_multiprocessing=dataset.use_multiprocessing,
                         max_queue_size=dataset.max_queue_size)
        self.dataset, self.check = dataset, check

    def __getitem__(self, index):
        return self.check(*_as_tuple(self.dataset[index]))

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def _second(element: tuple):
    return element[1] if len(element) > 1 else None


def _as_tuple(batch) -> tuple:
    return tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)


def _spec(x) -> keras.KerasTensor:
    return keras.KerasTensor(tuple(x.shape), keras.backend.standardize_dtype(x.dtype))
