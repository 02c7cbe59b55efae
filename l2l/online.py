"""Online classifiers: a causal learner and a class head, scored by instance number.

In the online few-shot protocol (`l2l.tasks.online`) a model labels each step of a sequence
from `x_t` and the labelled steps before it. `OnlineClassifier(learner, predictor, encoder)`
is that model: the optional `encoder` embeds every example, the learner's
`online_features(support_x, support_y, support_mask)` gives causal step features `[B, T, D]`
(step `t` reads `y_{t-1}`, never `y_t`), and the `predictor` (a layer, `Dense(ways)` by
default) maps them to logits `[B, T, ways]`, one per step. It is a `MetaModel`: it trains
with `fit` on `OnlineClassification.dataset(...)`, scores with `l2l.evaluation.evaluate`
(accuracy over all steps) and saves as `.keras`. `online_scores` gives the accuracy by
instance number.

Learners with `online_features`: `MANNLearner` (Santoro et al., 2016), `SequenceLearner`
(the LSTM; its output `h_t`), `CausalAttentionLearner`, `OnlinePrototypeLearner` (whose
features are already logits: no predictor). `online_model(kind, ways)` builds and compiles
one of each, by `ONLINE_KINDS`.

Example:

>>> import numpy as np
>>> from l2l.online import online_model, online_scores
>>> from l2l.tasks import OnlineClassification
>>> x = np.random.default_rng(0).normal(size=(400, 6)).astype("float32")
>>> task = OnlineClassification(x, np.arange(400) % 20, ways=3, instances=3)
>>> model = online_model("mann", ways=3, width=8, encoder=None, memory_slots=8)
>>> tuple(model(task.episodes(2, seed=0).inputs()).shape)
(2, 9, 3)
>>> sorted(online_scores(model, task.fixed_episodes(4, seed=0))["by_instance"])
[1, 2, 3]
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from l2l.episodes import QUERY_X, SUPPORT_MASK, SUPPORT_X, SUPPORT_Y, Episode
from l2l.errors import invalid_value
from l2l.learners import (
    CausalAttentionLearner,
    MANNLearner,
    OnlinePrototypeLearner,
    SequenceLearner,
)
from l2l.models import MetaModel
from l2l.ops import apply_per_example
from l2l.serialization import register
from l2l.tasks.online import INSTANCES_REPORTED, per_instance_accuracy
from l2l.validation import checked_episode

ONLINE_KINDS = ("mann", "lstm", "attention", "prototypes")


@register
class OnlineClassifier(MetaModel):
    """Logits `[B, T, ways]` for every step of the support sequence, causally.

    Inputs are an online episode's (`l2l.tasks.online`): the query set is the support
    sequence itself, so `query_x` must have the support set's length; only `support_*` is
    read. Targets are `query_y = support_y`.

    Args:
        learner: a learner with `online_features` (see the module docstring).
        predictor: the per-step head, a layer on `[B, T, D]` (e.g. `keras.layers.Dense(ways)`),
            or `None` for a learner whose features are logits (`emits_logits`).
        encoder: optional layer applied to every example first.
    """

    def __init__(self, learner, predictor=None, encoder=None, **kwargs):
        if not callable(getattr(learner, "online_features", None)):
            raise invalid_value("learner", learner, "a learner with online_features (e.g. "
                                "MANNLearner, SequenceLearner, CausalAttentionLearner)")
        if predictor is None and not getattr(learner, "emits_logits", False):
            raise invalid_value("predictor", None, "a head layer such as "
                                "keras.layers.Dense(ways)",
                                fix=f"{type(learner).__name__} emits features, not logits")
        super().__init__(learner, predictor, encoder=encoder, **kwargs)

    def build(self, input_shape=None):
        """Nothing to create ahead of the first call: the encoder, learner and head build
        there, from the episode it reads (whose example shape becomes `example_shape`);
        `build_from_config` repeats that call for a loaded model."""

    def call(self, inputs, training=None):
        inputs = checked_episode(inputs, self.example_shape, "this OnlineClassifier",
                                 (SUPPORT_X,))
        support_x = inputs[SUPPORT_X]
        steps, queries = support_x.shape[1], inputs[QUERY_X].shape[1]
        if None not in (steps, queries) and steps != queries:
            raise invalid_value("query_x", inputs[QUERY_X], f"the support sequence again "
                                f"({steps} steps): online episodes answer every step")
        self._record_signature(inputs)
        if self.encoder is not None:
            support_x = apply_per_example(self.encoder, ops.cast(support_x, "float32"),
                                          training=training)
        features = self.learner.online_features(support_x, inputs[SUPPORT_Y],
                                                inputs[SUPPORT_MASK], training=training)
        logits = features if self.predictor is None else self.predictor(features)
        return ops.cast(logits, "float32")


def online_model(kind: str, ways: int, encoder: keras.layers.Layer | None | str = "default",
                 width: int = 64, memory_slots: int = 128, memory_width: int = 40,
                 read_heads: int = 4, previous_example: bool = False,
                 write_values: bool = False, initial_strength: float | None = None,
                 initial_gate: float = 0.5, distinct_slots: bool = False,
                 learning_rate: float = 1e-3,
                 jit_compile: bool | str = "auto") -> OnlineClassifier:
    """A compiled `OnlineClassifier` of `kind` in `ONLINE_KINDS` (cross-entropy, accuracy).

    `encoder="default"` is `l2l.networks.conv_encoder((32, 32, 32), units=width)` for uint8
    images; `None` reads vector examples as they are. `width` is the LSTM/controller units
    (MANN: `2 * width`, the paper's 200 at width 100) and the attention size. The memory
    options (`memory_slots` ... `initial_gate`; `initial_strength=None` for its default) are
    `MANNLearner`'s. `jit_compile=True` compiles the steps with XLA, which Keras's `"auto"`
    does only on a GPU: on a 2-core CPU it runs MANN's training steps about 1.5-2 times as
    fast (`benchmarks/online.py`, the `_xla` runs).
    """
    from l2l.networks import conv_encoder
    from l2l.presets import compile_classification

    if isinstance(encoder, str):
        if encoder != "default":
            raise invalid_value("encoder", encoder, "a layer, None or 'default'")
        encoder = conv_encoder((32, 32, 32), units=width)
    head = layers.Dense(ways, name="head")
    if kind == "mann":
        learner = MANNLearner(ways, units=2 * width, memory_slots=memory_slots,
                              memory_width=memory_width, read_heads=read_heads,
                              previous_example=previous_example, write_values=write_values,
                              initial_gate=initial_gate, distinct_slots=distinct_slots,
                              **({} if initial_strength is None else
                                                            {"initial_strength": initial_strength}))
    elif kind == "lstm":
        learner = SequenceLearner(units=2 * width, ways=ways)
    elif kind == "attention":
        learner = CausalAttentionLearner(dim=width, blocks=1, units=(2 * width,), ways=ways)
    elif kind == "prototypes":
        if encoder is None:
            raise invalid_value("encoder", None, "an embedding network",
                                fix="online prototypes compare example embeddings")
        learner, head = OnlinePrototypeLearner(ways), None
    else:
        raise invalid_value("kind", kind, f"one of {ONLINE_KINDS}")
    model = OnlineClassifier(learner, head, encoder=encoder, name=f"online_{kind}_{ways}way")
    return compile_classification(model, learning_rate, jit_compile)


def online_scores(model, episodes: Episode, instances: tuple[int, ...] = INSTANCES_REPORTED,
                  batch_size: int = 100) -> dict:
    """Accuracy of `model` on online `episodes`: overall and by instance number.

    Returns `{"accuracy": {"mean", "ci95", "episodes"}, "by_instance": {n: {...}}}` (see
    `l2l.tasks.online.per_instance_accuracy`; instance numbers absent from the episodes are
    left out), and `"correct" [B, T]`, whether each step was right.
    """
    from l2l.evaluation import mean_ci95

    logits = model.predict(episodes.inputs(), batch_size=batch_size, verbose=0)
    correct = np.argmax(logits, axis=-1) == episodes.query_y
    mean, ci = mean_ci95(correct.mean(axis=1))
    return {"accuracy": {"mean": mean, "ci95": ci, "episodes": int(len(correct))},
            "by_instance": per_instance_accuracy(correct, episodes.query_y, instances),
            "correct": correct}
