# Over 300 lines: the inner loop, its hooks and serialisation of the one base class every
# gradient-based meta-learner shares (its input checks live in l2l.checked_model).
"""The shared inner loop of gradient-based meta-learners, as one `keras.Model` base class.

`GradientMetaLearner` wraps any built Keras model (the *predictor*: one example in, one
prediction out). Given a batch of episodes it copies the model's trainable parameters once per
episode (`[B, *shape]`), takes a few gradient steps on every episode's masked support loss at
once (one gradient call for the whole batch, see `l2l.algorithms.functional`), and answers the
queries with the adapted parameters. So

- `model(inputs)` / `predict(inputs)` return adapted query predictions, and
  `l2l.evaluation.evaluate` scores it like any `MetaModel`;
- Keras's own `train_step` differentiates the query loss through the inner loop: that is MAML
  (second order by default, first order with `first_order=True`). Subclasses change only how
  a step is taken (`inner_rates`, `inner_penalty`); Reptile replaces `train_step`.

The episodes are batched structurally by default (`vectorize="batched"`, see
`l2l.algorithms.functional`): Dense and Conv2D layers run as batched matmuls and grouped
convolutions, with no loop over episodes in the graph; `vectorize="pfor"` keeps the older
`tf.vectorized_map` path, which runs any layer. `batch_norm` chooses how batch normalisation
behaves in the inner loop (`"transductive"` per-episode batch statistics, MAML's setting, or
`"running"` statistics at test time; see `l2l.algorithms.batched_layers.BATCH_NORM_MODES`).
A subclass adapts a subset of the parameters by overriding `adapted_variables` (ANIL).

Inner steps are a static Python loop (a small fixed count), so the whole step traces into one
graph that XLA compiles (`compile(jit_compile=True)`). With `stop_tolerance`, each episode
stops on its own once a step improved its support objective by less than the tolerance (that
step is kept); stopped episodes stay put while the others go on, up to the step count. The
graph always runs every step (static shapes), so stopping changes results, not compute.

Example:

>>> import keras
>>> from l2l.algorithms import MAML
>>> from l2l.tasks import SinusoidTask
>>> net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(16, activation="relu"),
...                         keras.layers.Dense(1)])
>>> maml = MAML(net, inner_steps=1, inner_learning_rate=0.01)
>>> maml.compile(keras.optimizers.Adam(1e-3))
>>> task = SinusoidTask(shots=5, queries=10)
>>> history = maml.fit(task.dataset(8, seed=0), steps_per_epoch=3, verbose=0)
>>> tuple(maml.predict(task.fixed_episodes(4, seed=1).inputs(), verbose=0).shape)
(4, 10, 1)
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import keras
import tensorflow as tf
from keras import ops

from l2l.algorithms.batched_conv import conv_method
from l2l.algorithms.batched_layers import BATCH_NORM_MODES, check_supported
from l2l.algorithms.functional import VECTORIZE, batched_call, per_example_loss, stack_params
from l2l.algorithms.safeguard import backtrack
from l2l.checked_model import CheckedWrapper
from l2l.episodes import QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y
from l2l.errors import InvalidTypeError, invalid_value
from l2l.ops import masked_mean
from l2l.serialization import deserialize_layers, register, serialize_layers
from l2l.validation import check_positive_int, check_positive_number, checked_targets


@dataclasses.dataclass
class Adaptation:
    """What the inner loop returns for a batch of `B` episodes.

    Attributes:
        params: adapted parameters, one `[B, *variable.shape]` tensor per trainable variable
            of the wrapped model, in `model.trainable_variables` order (a variable the
            algorithm does not adapt, see `adapted_variables`, is its `[*shape]` value).
        objectives: `[B, steps]` support objective (loss + penalty) before each step.
        steps: `[B]` number of steps each episode took (less than `steps` if it stopped).
    """

    params: list
    objectives: object
    steps: object


@register
class GradientMetaLearner(CheckedWrapper, keras.Model):
    """MAML-style meta-learning of the initial parameters of `model`.

    Args:
        model: a Keras model mapping a batch of examples `[n, ...]` to predictions `[n, ...]`.
            It is built here if it is not built yet (call it once, or give it a
            `keras.Input`, to build it yourself).
        loss: the task loss, a Keras loss name or function returning one value per example
            (`"mse"`, `"binary_crossentropy"`, ...). The inner loop minimises its masked mean
            over the support set; `compile` uses it on the queries unless given another.
        inner_steps: gradient steps on the support set during meta-training.
        inner_learning_rate: step size of the inner loop.
        test_steps: steps when not training (`predict`, `evaluate`); `inner_steps` if None.
        first_order: drop second derivatives (first-order MAML): the meta-gradient is the
            query-loss gradient at the adapted parameters.
        stop_tolerance: if set, an episode stops adapting once a step lowers its support
            objective by less than this (absolute) amount.
        vectorize: `"batched"` (structural batching of supported layers; the default) or
            `"pfor"` (`tf.vectorized_map`, any layer; no XLA for conv nets).
        batch_norm: `"transductive"` or `"running"`: how batch normalisation layers
            normalise inside and after the inner loop (`BATCH_NORM_MODES`); batched path only.
        safe_steps: undo any step that raises an episode's support objective and halve that
            episode's later steps (`l2l.algorithms.safeguard`).
    """

    def __init__(self, model, loss="mse", inner_steps: int = 1,
                 inner_learning_rate: float = 0.01, test_steps: int | None = None,
                 first_order: bool = False, stop_tolerance: float | None = None,
                 vectorize: str = "batched", batch_norm: str = "transductive",
                 safe_steps: bool = False, **kwargs):
        super().__init__(**kwargs)
        if vectorize not in VECTORIZE:
            raise invalid_value("vectorize", vectorize, f"one of {VECTORIZE}")
        if batch_norm not in BATCH_NORM_MODES:
            raise invalid_value("batch_norm", batch_norm, f"one of {BATCH_NORM_MODES}")
        self.vectorize, self.batch_norm = vectorize, batch_norm
        self.safe_steps = bool(safe_steps)
        if not isinstance(model, keras.Layer):
            raise invalid_value("model", model, "a Keras model (keras.Model or keras.Layer)",
                                f"{type(self).__name__} wraps a Keras model",
                                error=InvalidTypeError)
        self.model = model
        self.task_loss = keras.losses.get(loss)
        if self.task_loss is None:
            raise invalid_value("loss", loss, "a Keras loss name such as 'mse' or a function "
                                "(y_true, y_pred) -> per-example loss")
        self.inner_steps = check_positive_int("inner_steps", inner_steps)
        self.inner_learning_rate = check_positive_number("inner_learning_rate", inner_learning_rate)
        self.test_steps = self.inner_steps if test_steps is None else check_positive_int(
            "test_steps", test_steps)
        self.first_order = bool(first_order)
        if stop_tolerance is not None and (not math.isfinite(stop_tolerance)
                                           or stop_tolerance < 0):
            raise invalid_value("stop_tolerance", stop_tolerance, "None or a finite number >= 0")
        self.stop_tolerance = stop_tolerance
        self._example_shape = None
        if model.built:
            self._build_state()

    # -- building ---------------------------------------------------------------------------

    def build(self, input_shape):
        """Build the wrapped model for the examples of `input_shape["support_x"]`."""
        if isinstance(input_shape, dict) and SUPPORT_X in input_shape:
            self._build_for(tuple(input_shape[SUPPORT_X])[2:])
        self.built = True

    def _build_state(self):
        """Create the algorithm's own variables; the wrapped model is built when this runs."""
        if not self.model.trainable_variables:
            raise invalid_value("model", self.model, "a model with trainable variables",
                                f"{type(self).__name__}: the wrapped model has no trainable "
                                "variables, so there is nothing to adapt")
        if self.vectorize == "batched":
            check_supported(self.model)
        self.create_variables()
        self.built = True

    def create_variables(self) -> None:
        """Hook: create per-parameter variables (learning rates, scales). None by default."""

    # -- the inner loop ---------------------------------------------------------------------

    def inner_rates(self, theta, phi) -> list:
        """Per-parameter step sizes, each broadcastable to `[B, *shape]`. Scalar by default."""
        return [self.inner_learning_rate] * len(phi)

    def inner_penalty(self, theta, phi, support_count):
        """Per-episode `[B]` term added to the support loss, or None (the default)."""
        return None

    def adapted_variables(self) -> list[bool]:
        """Hook: which of `model.trainable_variables` the inner loop adapts. All by default."""
        return [True] * len(self.model.trainable_variables)

    def inner_update(self, theta, phi, inputs, adapted, training=False, first_order=False):
        """Hook: one inner step, `(objective [B], updates)`.

        `objective` is the support objective at `phi`; `adapted` lists the indices of the
        parameters the inner loop adapts (`adapted_variables`), and `updates` holds, for each
        of them, the `[B, *shape]` amount the step subtracts from it. By default
        `inner_rates * grad` (plain or per-parameter SGD); `l2l.algorithms.NewtonMAML` takes
        Newton steps instead.
        """
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([phi[i] for i in adapted])
            objective = self.support_objective(theta, phi, inputs, training=training)
            total = ops.sum(objective)
        grads = [tf.convert_to_tensor(g)  # not IndexedSlices
                 for g in tape.gradient(total, [phi[i] for i in adapted])]
        if first_order:
            grads = [tf.stop_gradient(g) for g in grads]
        rates = self.inner_rates(theta, phi)
        return objective, [rates[i] * g for i, g in zip(adapted, grads, strict=True)]

    def call_with_params(self, params, x, training=False, update_statistics=False):
        """Predictions `[B, n, ...]` of the wrapped model with per-episode `params`.

        `params` as `Adaptation.params`; `update_statistics` lets `batch_norm="running"`
        layers update their moving statistics (done on the queries in training).
        """
        jit = getattr(self, "jit_compile", False) is True
        return batched_call(self.model, params, self._cast_x(x), training=training,
                            vectorize=self.vectorize, batch_norm=self.batch_norm,
                            conv=conv_method(jit), update_statistics=update_statistics)

    def forward(self, params, x, training=False):
        """Deprecated alias of `call_with_params` (to be removed in the next release)."""
        warnings.warn("GradientMetaLearner.forward is deprecated; use call_with_params.",
                      DeprecationWarning, stacklevel=2)
        return self.call_with_params(params, x, training=training)

    def _cast_x(self, x):
        x = ops.convert_to_tensor(x)
        if keras.backend.is_float_dtype(x.dtype):
            x = ops.cast(x, self.model.trainable_variables[0].dtype)
        return x

    def support_objective(self, theta, phi, inputs, training=False):
        """`[B]`: masked mean support loss of every episode, plus `inner_penalty`."""
        mask = ops.cast(inputs[SUPPORT_MASK], phi[0].dtype)
        predictions = self.call_with_params(phi, inputs[SUPPORT_X], training=training)
        losses = per_example_loss(self.task_loss, inputs[SUPPORT_Y], predictions)
        objective = masked_mean(losses, mask)
        penalty = self.inner_penalty(theta, phi, ops.sum(mask, axis=1))
        return objective if penalty is None else objective + penalty

    def adapt(self, inputs, steps: int | None = None, training: bool = False,
              first_order: bool | None = None) -> Adaptation:
        """Run the inner loop on every episode of `inputs` (an Episode's `inputs()`) at once.

        Inputs are checked by `l2l.validation`, as `MetaModel`'s are; support labels of a
        classifier are checked against its number of outputs.
        """
        return self._adapt(self.checked_inputs(inputs), steps, training, first_order)

    def _adapt(self, inputs, steps, training, first_order) -> Adaptation:
        steps = (self.inner_steps if training else self.test_steps) if steps is None else steps
        first_order = self.first_order if first_order is None else first_order
        theta = [ops.convert_to_tensor(v) for v in self.model.trainable_variables]
        adapted = [i for i, a in enumerate(self.adapted_variables()) if a]
        phi = _with_adapted(theta, adapted, stack_params([theta[i] for i in adapted],
                                                          ops.shape(inputs[SUPPORT_X])[0]))
        active = ops.ones_like(inputs[SUPPORT_MASK][:, 0], dtype=theta[0].dtype)
        taken = ops.zeros_like(active)
        objectives, previous, accepted, scale = [], None, None, ops.ones_like(active)
        for _ in range(steps):
            objective, updates = self.inner_update(theta, phi, inputs, adapted,
                                                   training=training, first_order=first_order)
            if self.safe_steps and accepted is not None:
                kept, objective, updates, scale = backtrack(
                    accepted, [phi[i] for i in adapted], objective, updates, scale)
                phi = _with_adapted(phi, adapted, kept)
            accepted = ([phi[i] for i in adapted], objective, updates)
            if self.stop_tolerance is not None and previous is not None:
                improved = ops.cast(previous - objective > self.stop_tolerance, active.dtype)
                active = tf.stop_gradient(active * improved)
            phi = _with_adapted(phi, adapted, [
                phi[i] - _per_episode(active * scale, phi[i]) * u
                for i, u in zip(adapted, updates, strict=True)])
            taken = taken + active
            objectives.append(objective)
            previous = objective
        if self.safe_steps and accepted is not None:
            final = self.support_objective(theta, phi, inputs, training=training)
            phi = _with_adapted(phi, adapted, backtrack(
                accepted, [phi[i] for i in adapted], final, accepted[2], scale)[0])
        stacked = ops.stack(objectives, axis=1) if objectives else None
        return Adaptation(phi, stacked, taken)

    def call(self, inputs, training=None):
        inputs = self.checked_inputs(inputs)
        adapted = self._adapt(inputs, None, bool(training), None)
        return self.call_with_params(adapted.params, inputs[QUERY_X], training=training,
                                     update_statistics=bool(training))

    def with_options(self, **changes) -> GradientMetaLearner:
        """A copy with some constructor arguments changed and the same weights (uncompiled).

        For instance `maml.with_options(test_steps=10, stop_tolerance=1e-3)` evaluates the
        same meta-learned initialisation with a longer, self-stopping inner loop.
        """
        config = self.get_config()
        unknown = sorted(set(changes) - set(config) - {"model"})
        if unknown:
            raise invalid_value("options", unknown, f"options of {type(self).__name__} "
                                f"({sorted(config)})", f"{type(self).__name__} has no options "
                                f"{unknown}")
        copy = type(self).from_config({**config, **changes})
        if not copy.built:
            copy._build_for(self._example_shape)
        copy.set_weights(self.get_weights())
        return copy

    # -- compiling and saving ---------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is not None and y_pred is not None:
            y = checked_targets(y, y_pred, type(self).__name__)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def compile(self, optimizer="adam", loss=None, **kwargs):
        """`keras.Model.compile`; the query loss defaults to the task loss."""
        super().compile(optimizer=optimizer, loss=self.task_loss if loss is None else loss,
                        **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            **serialize_layers(model=self.model),
            "loss": keras.losses.serialize(self.task_loss),
            "inner_steps": self.inner_steps,
            "inner_learning_rate": self.inner_learning_rate,
            "test_steps": self.test_steps,
            "first_order": self.first_order,
            "stop_tolerance": self.stop_tolerance,
            "vectorize": self.vectorize,
            "batch_norm": self.batch_norm,
            "safe_steps": self.safe_steps,
        }

    @classmethod
    def from_config(cls, config):
        config = deserialize_layers(config, "model")
        config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)


def _with_adapted(params: list, adapted: list[int], values: list) -> list:
    """`params` with `params[i]` replaced by the matching entry of `values`, for `i` in
    `adapted` (the per-episode parameters of the inner loop)."""
    params = list(params)
    for i, value in zip(adapted, values, strict=True):
        params[i] = value
    return params


def _per_episode(values, like):
    """`[B]` values reshaped to broadcast against `like [B, ...]`."""
    return ops.reshape(values, (-1,) + (1,) * (len(like.shape) - 1))
