"""Memory-augmented neural network (MANN, Santoro et al., 2016): an LSTM with an LRUA memory.

At each step an LSTM controller reads `[x_t, y_{t-1}, r_{t-1}]` (the example, the previous
step's label, what it read from memory at the previous step) and emits, per read head, a key
`k`, a write gate `alpha` and a key strength `beta`. The memory `M [slots, width]` is then

- written with *least recently used access* (LRUA): the write weights interpolate the
  previous read weights and the least-used slots, `w_w = sigmoid(alpha) w_r_{t-1} +
  (1 - sigmoid(alpha)) w_lu_{t-1}`; the least-used slot is erased first, then
  `M_t = M_{t-1} + w_w^T k`;
- read by content: `w_r = softmax(beta * cosine(k, M_t))`, `r_t = w_r M_t`;
- and the usage decays and accumulates, `w_u = gamma w_u + w_r + w_w`; `w_lu` marks the
  `read_heads` slots of least usage.

The key strength `beta = 1 + softplus(.)` is not in the paper (its reads use the plain
cosine, as the NTM's content addressing does with `beta`); it lets a read be sharp over 128
slots early in training. `lrua_step` is the memory update alone, for tests and reuse.

Two options, off by default (the paper's MANN), make binding an example to its label a
one-step job instead of one the controller must discover:

- `previous_example=True`: the controller also reads `x_{t-1}` beside `y_{t-1}`, so the
  pair whose label has just arrived is in one input; otherwise the LSTM must carry `x_{t-1}`
  in its state for a step. The features still depend on `x_<=t` and `y_<t` only.
- `write_values=True`: each head writes its own vector (the NTM's add vector) instead of
  its read key, so what a step writes (the new pair) and what it looks up (`x_t`) no longer
  share one key.

A third, also off by default, changes where fresh writes go. In the paper every head's fresh
write is spread over the `read_heads` least-used slots (`w_lu` marks them all) and only the
least used of all is erased, so with 4 heads one slot holds the sum of 4 heads' writes and 3
of the 4 are added onto older contents. `distinct_slots=True` gives head `i` the `i`-th
least-used slot alone and erases all of them first: one write per slot.

Two more set where training starts, not the architecture: `initial_strength` (beta before
training, `1 + log 2` by default, the value of `1 + softplus(0)`) and `initial_gate` (the
write gate's `sigmoid(alpha)` before training, 0.5 by default). At the defaults a read over
128 slots is nearly uniform, and half of every write follows that uniform read, so the memory
starts as a smear in which no slot differs from another; `initial_strength=10,
initial_gate=0.1` starts with sharp reads and writes to fresh slots.

The step features `[h_t, r_t]` depend on `x_<=t` and `y_<t` only, so a class head on them
is the online classifier of the paper (`l2l.online.OnlineClassifier`). As a plain `Learner`
(support/query episodes) the task code is the features after the last support step.

Example:

>>> import numpy as np
>>> from l2l.learners import MANNLearner
>>> mann = MANNLearner(ways=3, units=8, memory_slots=6, memory_width=4, read_heads=2)
>>> x, y = np.ones((2, 5, 3), "float32"), np.zeros((2, 5), "int32")
>>> tuple(mann.online_features(x, y, np.ones((2, 5))).shape)
(2, 5, 16)
>>> tuple(mann(x, y, np.ones((2, 5)))["features"].shape)
(2, 16)
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from l2l.errors import invalid_value
from l2l.learners.base import FEATURES, Learner
from l2l.ops import check_ways, encoded_vectors, label_features
from l2l.serialization import deserialize_layers, register, serialize_layers
from l2l.validation import check_fraction, check_open_interval, check_positive_int

MEMORY_INIT = 1e-6  # every slot starts at this constant, so cosine similarities are defined
DEFAULT_STRENGTH = 1.0 + math.log(2.0)  # beta = 1 + softplus(z) at z = 0
_EPS = 1e-8


def cosine_similarity(keys, memory):
    """`[B, R, N]`: cosine of each key `[B, R, W]` with each memory slot `[B, N, W]`."""
    dots = ops.einsum("brw,bnw->brn", keys, memory)
    key_norm = ops.sqrt(ops.sum(ops.square(keys), axis=-1))[:, :, None]
    slot_norm = ops.sqrt(ops.sum(ops.square(memory), axis=-1))[:, None, :]
    return dots / ((key_norm + _EPS) * (slot_norm + _EPS))


def least_used_slots(usage, n: int):
    """`[B, n, N]` float: row `i` is one-hot at the slot of `i`-th least usage (ties go to the
    lower index)."""
    _, slots = ops.top_k(-usage, k=n, sorted=True)
    return ops.one_hot(slots, ops.shape(usage)[-1], dtype=usage.dtype)


def least_used(usage, n: int):
    """`[B, N]` float: 1 at the `n` slots of least usage (ties go to the lower index), else 0."""
    return ops.sum(least_used_slots(usage, n), axis=1)


def lrua_step(memory, usage, previous_read, keys, gates, strengths, decay: float,
              values=None, distinct_slots: bool = False):
    """One LRUA write then content read (see the module docstring).

    Args:
        memory: `[B, N, W]`; usage: `[B, N]`; previous_read: read weights `[B, R, N]` of
            the previous step; keys: `[B, R, W]`; gates: write gates `[B, R]` in [0, 1]
            (the sigmoid already applied); strengths: `[B, R]` > 0; decay: usage decay gamma.
        values: `[B, R, W]` written instead of the keys (`write_values`); `None` writes the
            keys, as the paper does.
        distinct_slots: head `i`'s fresh write goes to the `i`-th least-used slot alone, and
            all `R` of those slots are erased first. `False` is the paper: every head's fresh
            write is spread over the `R` least-used slots, and only the least used of all is
            erased.

    Returns:
        `(memory, usage, read_weights [B, R, N], reads [B, R, W])` after the step.

    >>> import numpy as np
    >>> m, u, w, r = lrua_step(np.eye(2)[None] + 0.0, np.array([[1.0, 0.0]]),
    ...                        np.array([[[1.0, 0.0]]]), np.array([[[0.0, 2.0]]]),
    ...                        np.array([[0.0]]), np.array([[1.0]]), 0.5)
    >>> m.numpy()[0].tolist()  # slot 1 (least used) erased, then written with the key
    [[1.0, 0.0], [0.0, 2.0]]
    """
    heads = keys.shape[1]
    if distinct_slots:
        fresh = least_used_slots(usage, heads)  # [B, R, N]: one slot per head
        erase = ops.sum(fresh, axis=1)
    else:
        fresh = least_used(usage, heads)[:, None, :]  # w_lu_{t-1}, shared by the heads
        erase = least_used(usage, 1)  # the single least-used slot is zeroed before writing
    write = gates[..., None] * previous_read + (1.0 - gates[..., None]) * fresh  # [B, R, N]
    written = keys if values is None else values
    memory = memory * (1.0 - erase[..., None]) + ops.einsum("brn,brw->bnw", write, written)
    read = ops.softmax(strengths[..., None] * cosine_similarity(keys, memory), axis=-1)
    reads = ops.einsum("brn,bnw->brw", read, memory)
    usage = decay * usage + ops.sum(read, axis=1) + ops.sum(write, axis=1)
    return memory, usage, read, reads


@register
class MANNCell(keras.layers.Layer):
    """One MANN step: LSTM controller, LRUA write, content read; output `[h, reads]`.

    States (flat, so `keras.layers.RNN` masks them like any state): `h`, `c`, memory
    `[slots * width]`, usage `[slots]`, read weights `[heads * slots]`, reads
    `[heads * width]`.
    """

    def __init__(self, units: int, memory_slots: int, memory_width: int, read_heads: int,
                 usage_decay: float = 0.95, write_values: bool = False,
                 initial_strength: float = DEFAULT_STRENGTH, initial_gate: float = 0.5,
                 distinct_slots: bool = False, **kwargs):
        super().__init__(**kwargs)
        units, memory_slots, memory_width, read_heads = (
            check_positive_int(name, value) for name, value in (
                ("units", units), ("memory_slots", memory_slots),
                ("memory_width", memory_width), ("read_heads", read_heads)))
        self.units, self.memory_slots, self.memory_width = units, memory_slots, memory_width
        self.read_heads = read_heads
        self.usage_decay = check_fraction("usage_decay", usage_decay, "0.95")
        self.write_values, self.distinct_slots = bool(write_values), bool(distinct_slots)
        self.initial_strength = check_open_interval(
            "initial_strength", initial_strength, 1.0, math.inf,
            "a finite number > 1 (beta = 1 + softplus(.) is above 1)")
        self.initial_gate = check_open_interval("initial_gate", initial_gate, 0.0, 1.0,
                                                "a number in (0, 1) (a sigmoid)")
        # Offsets on the interface's outputs: 0 at the defaults, the paper's start.
        self._strength_offset = 0.0 if self.initial_strength == DEFAULT_STRENGTH else \
            math.log(math.expm1(self.initial_strength - 1.0))
        self._gate_offset = math.log(self.initial_gate / (1.0 - self.initial_gate))
        if read_heads > memory_slots:
            raise invalid_value("read_heads", read_heads, f"at most memory_slots "
                                f"({memory_slots})", "a fresh write marks read_heads "
                                "least-used slots; lower read_heads or raise memory_slots")
        n, w, r = memory_slots, memory_width, read_heads
        self.state_size = [units, units, n * w, n, r * n, r * w]
        self.output_size = units + r * w
        self.controller = layers.LSTMCell(units, name="controller")
        self._head_size = (2 * w if self.write_values else w) + 2  # key[, value], gate, beta
        self.interface = layers.Dense(r * self._head_size, name="interface")

    def build(self, input_shape):
        reads = self.read_heads * self.memory_width
        self.controller.build((input_shape[0], input_shape[-1] + reads))
        self.interface.build((input_shape[0], self.units))
        self.built = True

    def get_initial_state(self, batch_size=None):
        """Zero controller state, zero reads, and an empty memory with uniform usage."""
        n, w, r, dtype = self.memory_slots, self.memory_width, self.read_heads, self.compute_dtype
        zeros = lambda d: ops.zeros((batch_size, d), dtype=dtype)  # noqa: E731
        return [zeros(self.units), zeros(self.units),
                ops.full((batch_size, n * w), MEMORY_INIT, dtype=dtype), zeros(n),
                zeros(r * n), zeros(r * w)]

    def call(self, inputs, states, training=None):
        n, w, r = self.memory_slots, self.memory_width, self.read_heads
        h, c, memory, usage, read, reads = states
        _, (h, c) = self.controller(ops.concatenate([inputs, reads], axis=-1), [h, c],
                                    training=training)
        interface = ops.reshape(self.interface(h), (-1, r, self._head_size))
        keys = ops.tanh(interface[..., :w])
        values = ops.tanh(interface[..., w:2 * w]) if self.write_values else None
        gates = ops.sigmoid(interface[..., -2] + self._gate_offset)
        strengths = 1.0 + ops.softplus(interface[..., -1] + self._strength_offset)
        memory, usage, read, reads = lrua_step(
            ops.reshape(memory, (-1, n, w)), usage, ops.reshape(read, (-1, r, n)), keys,
            gates, strengths, self.usage_decay, values, self.distinct_slots)
        reads = ops.reshape(reads, (-1, r * w))
        state = [h, c, ops.reshape(memory, (-1, n * w)), usage, ops.reshape(read, (-1, r * n)),
                 reads]
        return ops.concatenate([h, reads], axis=-1), state

    def get_config(self):
        return {**super().get_config(), "units": self.units, "memory_slots": self.memory_slots,
                "memory_width": self.memory_width, "read_heads": self.read_heads,
                "usage_decay": self.usage_decay, "write_values": self.write_values,
                "initial_strength": self.initial_strength, "initial_gate": self.initial_gate,
                "distinct_slots": self.distinct_slots}


@register
class MANNLearner(Learner):
    """Santoro et al.'s MANN over a sequence of examples with delayed labels.

    Args:
        ways: classes per episode (labels are one-hot encoded).
        units: LSTM controller units (the paper: 200).
        memory_slots, memory_width: memory size (the paper: 128 x 40).
        read_heads: read heads (the paper: 4).
        usage_decay: gamma of the usage update (the paper: 0.95, reported as a good value).
        encoder: optional layer applied to each example first (e.g. a conv net).
        previous_example: the controller also reads `x_{t-1}` (see the module docstring).
        write_values: each head writes its own vector, not its key (module docstring).
        distinct_slots: each head's fresh write has a slot of its own (module docstring).
        initial_strength, initial_gate: beta and the write gate before training (module
            docstring); the defaults are the paper's start.

    `online_features(support_x, support_y, support_mask)` gives `[B, T, units + heads *
    width]`, step `t` from `x_<=t` and `y_<t`; `call` returns the last step's as `"features"`.
    """

    def __init__(self, ways: int, units: int = 200, memory_slots: int = 128,
                 memory_width: int = 40, read_heads: int = 4, usage_decay: float = 0.95,
                 encoder=None, previous_example: bool = False, write_values: bool = False,
                 initial_strength: float = DEFAULT_STRENGTH, initial_gate: float = 0.5,
                 distinct_slots: bool = False, **kwargs):
        super().__init__(**kwargs)
        if ways is None:
            raise ValueError("MANNLearner classifies: pass ways=N.")
        self.ways, self.units = check_ways(ways), units
        self.memory_slots, self.memory_width = memory_slots, memory_width
        self.read_heads, self.usage_decay, self.encoder = read_heads, usage_decay, encoder
        self.previous_example, self.write_values = bool(previous_example), bool(write_values)
        self.cell = MANNCell(units, memory_slots, memory_width, read_heads, usage_decay,
                             write_values=self.write_values, initial_strength=initial_strength,
                             initial_gate=initial_gate, distinct_slots=distinct_slots,
                             name="cell")
        self.rnn = layers.RNN(self.cell, return_sequences=True, name="rnn")

    def build(self, support_x_shape, support_y_shape=None, support_mask_shape=None):
        self.built = True  # the RNN builds on first call, once the encoder's output is known

    def online_features(self, support_x, support_y, support_mask, training=None):
        """`[B, T, D]`: the step features, step `t` from `x_<=t` and `y_<t`."""
        x = encoded_vectors(self.encoder, support_x, self, self.compute_dtype, training)
        steps = [x, delayed_labels(support_y, self.ways, x.dtype)]
        if self.previous_example:  # x_{t-1} beside y_{t-1}; zeros at step 0
            steps.append(ops.concatenate([ops.zeros_like(x[:, :1]), x[:, :-1]], axis=1))
        steps = ops.concatenate(steps, axis=-1)
        return self.rnn(steps, mask=ops.cast(support_mask, "bool"), training=training)

    def call(self, support_x, support_y, support_mask, training=None):
        return {FEATURES: self.online_features(support_x, support_y, support_mask,
                                               training)[:, -1]}

    def get_config(self):
        return {**super().get_config(), "ways": self.ways, "units": self.units,
                "memory_slots": self.memory_slots, "memory_width": self.memory_width,
                "read_heads": self.read_heads, "usage_decay": self.usage_decay,
                "previous_example": self.previous_example, "write_values": self.write_values,
                "initial_strength": self.cell.initial_strength,
                "initial_gate": self.cell.initial_gate,
                "distinct_slots": self.cell.distinct_slots,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))


def delayed_labels(labels, ways: int | None, dtype):
    """`[B, T, L]`: at step `t` the label features of step `t - 1` (zeros at `t = 0`).

    The label encoding of the online protocol: a model reading these at step `t` has never
    seen `y_t`.

    >>> import numpy as np
    >>> delayed_labels(np.array([[2, 0]]), 3, "float32").numpy().tolist()
    [[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]
    """
    features = label_features(labels, ways, dtype)
    return ops.concatenate([ops.zeros_like(features[:, :1]), features[:, :-1]], axis=1)
