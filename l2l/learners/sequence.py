"""Sequence learner: an LSTM reads the support set in order (Hochreiter et al., 2001).

At step `t` the LSTM reads `x_t` together with the previous example's label `y_{t-1}`, the
input of the meta-learning LSTM of Hochreiter, Younger and Conwell (2001) and of
memory-augmented meta-learners (Santoro et al., 2016): the network must answer `x_t` before
it is told `y_t`. Its state after the last support example is the task code.

The same code answers every prefix of the support set, so the learner also predicts *online*:
`online_predictions(model, inputs)` gives the prediction of every support `y_t` from `x_t` and
the examples before it, in one pass, for error-versus-examples-seen curves.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from l2l.episodes import QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y, Episode
from l2l.errors import InvalidValueError, invalid_value
from l2l.learners.base import FEATURES, Learner
from l2l.ops import (
    apply_per_example,
    check_ways,
    encoded_vectors,
    label_features,
    label_size,
)
from l2l.serialization import deserialize_layers, register, serialize_layers


@register
class DelayedLabelLSTMCell(keras.layers.Layer):
    """An LSTM cell that reads `x_t` with the label of the previous example it was shown.

    Its input at each step is `[x_t, y_t]`; the LSTM sees `[x_t, y_prev]` and `y_t` is kept in
    the state for the next step. Its output is the whole new state `[h, c, y_t]`, which is
    everything the cell knows after reading the examples up to `t` (labels included).
    Wrapped in `keras.layers.RNN` with a mask, padded steps leave the state untouched.

    With `delay_labels=False` the LSTM sees the pair `[x_t, y_t]` itself: for regression,
    where a separate predictor answers the next `x`, this lets the embedding form products
    of `x_t` and `y_t` (the sufficient statistics of a least-squares fit) in one step,
    instead of carrying `x_t` in the state until its label arrives. `embed_units` are the
    hidden sizes of the ReLU MLP that embeds each step before the LSTM (default one layer
    of `units`). `lstm_layers` stacks LSTM cells; the output is then `[h, c]` of the top cell,
    then those of the cells below it (top first), then `y_t`.

    Example:

    >>> import numpy as np, keras
    >>> from l2l.learners.sequence import DelayedLabelLSTMCell
    >>> rnn = keras.layers.RNN(DelayedLabelLSTMCell(4, label_dim=1), return_sequences=True)
    >>> tuple(rnn(np.ones((2, 3, 5), "float32")).shape)
    (2, 3, 9)
    """

    def __init__(self, units: int, label_dim: int, delay_labels: bool = True,
                 embed_units=None, lstm_layers: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units, self.label_dim, self.delay_labels = units, label_dim, bool(delay_labels)
        self.embed_units = tuple(embed_units) if embed_units is not None else (units,)
        if isinstance(lstm_layers, bool) or not isinstance(lstm_layers, int) or lstm_layers < 1:
            raise invalid_value("lstm_layers", lstm_layers, "a positive integer (stacked LSTMs)")
        self.lstm_layers = lstm_layers
        self.embed = keras.Sequential([layers.Dense(u, activation="relu")
                                       for u in self.embed_units], name="embed")
        # The first cell keeps its old name, so one-layer models load as before.
        self.lstms = [layers.LSTMCell(units, name="lstm" if i == 0 else f"lstm_{i}")
                      for i in range(self.lstm_layers)]
        self.state_size = [units, units] * self.lstm_layers + [label_dim]
        self.output_size = 2 * units * self.lstm_layers + label_dim

    def build(self, input_shape):
        self.embed.build((input_shape[0], input_shape[-1]))  # [x_t, y_prev]: the same size
        for i, lstm in enumerate(self.lstms):
            lstm.build((input_shape[0], self.embed_units[-1] if i == 0 else self.units))
        self.built = True

    def call(self, inputs, states, training=None):
        previous_label = states[-1]
        x, label = inputs[:, :-self.label_dim], inputs[:, -self.label_dim:]
        shown = previous_label if self.delay_labels else label
        step = self.embed(ops.concatenate([x, shown], axis=-1), training=training)
        new = []
        for i, lstm in enumerate(self.lstms):
            step, (h, c) = lstm(step, [states[2 * i], states[2 * i + 1]], training=training)
            new += [h, c]
        top_first = new[-2:] + new[:-2]
        return ops.concatenate([*top_first, label], axis=-1), [*new, label]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "label_dim": self.label_dim,
                "delay_labels": self.delay_labels, "embed_units": list(self.embed_units),
                "lstm_layers": self.lstm_layers}


@register
class SequenceLearner(Learner):
    """An LSTM over the support examples in their given order; its final state is the code.

    The task code `"features" [B, 2 * units * lstm_layers + label_size]` is the state
    `[h, c, y_last]` (every cell's `h, c`, the top cell's first) after
    the last real support example: pair it with `ConditionedPredictor(interaction=False)`,
    which then answers each query from `x_q` and that state, like the LSTM's next step. Padded
    steps (mask 0) do not change the state, wherever they are. Not permutation invariant by
    design: the order of the support set is part of its input.

    Args:
        units: LSTM units.
        encoder: optional layer applied to each support `x` first (e.g. a conv net).
        ways: classes per episode for N-way classification (labels are one-hot encoded);
            `None` for regression.
        delay_labels: read `x_t` with the previous label (Hochreiter et al.'s encoding, the
            default) or with its own label (see `DelayedLabelLSTMCell`); either way the code
            after step `t` answers `x_{t+1}` through the predictor before `y_{t+1}` is read.
        embed_units: hidden sizes of the MLP embedding each step (default `(units,)`).
        pool_outputs: append to the code the running mean of the LSTM outputs `h` over the
            real steps so far (an average is what a least-squares fit of many examples
            needs, and an LSTM alone must learn a 1/t gate to compute one).
        lstm_layers: stacked LSTM cells (the code holds every cell's state, the top one's
            first).
        input_scale, label_scale: constants multiplying `x` and `y` before the step
            embedding, so that inputs of another range (sinusoid `x` in [-5, 5]) reach the
            network at about unit scale; the code's copy of `y_t` is scaled too.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import SequenceLearner
    >>> learner = SequenceLearner(units=8)
    >>> out = learner(np.ones((2, 5, 3)), np.ones((2, 5, 1)), np.ones((2, 5)))
    >>> tuple(out["features"].shape)
    (2, 17)
    >>> tuple(learner.online_codes(np.ones((2, 5, 3)), np.ones((2, 5, 1)),
    ...                            np.ones((2, 5))).shape)
    (2, 5, 17)
    """

    order_invariant = False  # the order of the support set is part of its input

    def __init__(self, units: int = 64, encoder=None, ways: int | None = None,
                 delay_labels: bool = True, embed_units=None, pool_outputs: bool = False,
                 lstm_layers: int = 1, input_scale: float = 1.0, label_scale: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_outputs = bool(pool_outputs)
        self.units, self.encoder, self.ways = units, encoder, check_ways(ways)
        self.delay_labels = bool(delay_labels)
        self.embed_units = tuple(embed_units) if embed_units is not None else None
        self.lstm_layers = lstm_layers
        for name, value in (("input_scale", input_scale), ("label_scale", label_scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise invalid_value(name, value, "a positive number")
        self.input_scale, self.label_scale = float(input_scale), float(label_scale)

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        cell = DelayedLabelLSTMCell(self.units, label_size(support_y_shape, self.ways),
                                    delay_labels=self.delay_labels,
                                    embed_units=self.embed_units,
                                    lstm_layers=self.lstm_layers, name="cell")
        self.rnn = layers.RNN(cell, return_sequences=True, name="rnn")
        self.built = True  # the RNN builds on first call, once the encoder's output is known

    def step_codes(self, support_x, support_y, support_mask, training=None):
        """`[B, S, D]`: the state after each step (a padded step repeats the one before)."""
        if not self.built:  # called directly, not through __call__, before any model call
            self(support_x, support_y, support_mask, training=training)
        x = encoded_vectors(self.encoder, support_x, self, self.compute_dtype, training)
        steps = ops.concatenate([x * self.input_scale,
                                 label_features(support_y, self.ways, x.dtype) * self.label_scale],
                                axis=-1)
        codes = self.rnn(steps, mask=ops.cast(support_mask, "bool"), training=training)
        if not self.pool_outputs:
            return codes
        mask = ops.cast(support_mask, codes.dtype)[..., None]
        total = ops.cumsum(codes[..., :self.units] * mask, axis=1)
        return ops.concatenate([codes, total / ops.maximum(ops.cumsum(mask, axis=1), 1.0)],
                               axis=-1)

    def online_codes(self, support_x, support_y, support_mask, training=None):
        """`[B, S, D]`: at `t`, the code of the examples before `t` (zeros, the start, at 0)."""
        codes = self.step_codes(support_x, support_y, support_mask, training=training)
        return ops.concatenate([ops.zeros_like(codes[:, :1]), codes[:, :-1]], axis=1)

    def online_features(self, support_x, support_y, support_mask, training=None):
        """`[B, S, units]`: the LSTM output `h_t` after reading `x_t` with `y_{t-1}`.

        The features of the online classification protocol (`l2l.online`): step `t` never
        depends on `y_t`. Needs `delay_labels=True`.
        """
        if not self.delay_labels:
            raise ValueError("online_features needs SequenceLearner(delay_labels=True): with "
                             "delay_labels=False step t reads its own label y_t.")
        codes = self.step_codes(support_x, support_y, support_mask, training=training)
        return codes[..., :self.units]

    def call(self, support_x, support_y, support_mask, training=None):
        return {FEATURES: self.step_codes(support_x, support_y, support_mask, training)[:, -1]}

    def get_config(self):
        return {**super().get_config(), "units": self.units, "ways": self.ways,
                "delay_labels": self.delay_labels, "pool_outputs": self.pool_outputs,
                "lstm_layers": self.lstm_layers, "input_scale": self.input_scale,
                "label_scale": self.label_scale,
                "embed_units": None if self.embed_units is None else list(self.embed_units),
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))


def online_predictions(model, inputs: Episode | dict, batch_size: int = 256) -> np.ndarray:
    """The prediction of every support `y_t` from `x_t` and the support examples before it.

    `model` is a `MetaModel` whose learner is a `SequenceLearner`; its predictor answers
    `x_t` with the code of the examples before `t`, as it answers queries with the code of the
    whole support set. Returns `[B, S, ...]` (the predictor's output per example; entries at
    padded steps are meaningless), for plots of error against the number of examples seen.

    Example:

    >>> import numpy as np
    >>> from l2l.learners import SequenceLearner
    >>> from l2l.learners.sequence import online_predictions
    >>> from l2l.models import MetaModel
    >>> from l2l.predictors import ConditionedPredictor
    >>> from l2l.tasks import SinusoidTask
    >>> model = MetaModel(SequenceLearner(units=8),
    ...                   ConditionedPredictor(units=(8,), interaction=False))
    >>> online_predictions(model, SinusoidTask(shots=6).episodes(4, seed=0)).shape
    (4, 6)
    """
    if not isinstance(getattr(model, "learner", None), SequenceLearner):
        raise InvalidValueError("online_predictions needs a MetaModel whose learner is a "
                         f"SequenceLearner, got {type(getattr(model, 'learner', model)).__name__}."
                         " Other learners can be scored on support prefixes through the mask.")
    if isinstance(inputs, Episode):
        inputs = inputs.inputs()
    parts = []
    for start in range(0, len(inputs[SUPPORT_X]), batch_size):
        part = {k: v[start:start + batch_size] for k, v in inputs.items() if k != QUERY_X}
        parts.append(ops.convert_to_numpy(_online(model, part)))
    return np.concatenate(parts)


def _online(model, inputs):
    from l2l.models import step_predictions

    support_x = inputs[SUPPORT_X]
    if model.encoder is not None:
        support_x = apply_per_example(model.encoder, ops.cast(support_x, "float32"),
                                      training=False)
    codes = model.learner.online_codes(support_x, inputs[SUPPORT_Y], inputs[SUPPORT_MASK],
                                       training=False)
    return step_predictions(model.predictor, support_x, codes, training=False)
