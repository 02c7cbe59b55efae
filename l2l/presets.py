# Over 300 lines: every built-in kind's builder is registered here, one short function each,
# so the registry has one place to read them from.
"""Ready-made learner/predictor pairings, one name (a *kind*) each, in one registry.

`regression_model(kind)`, `classification_model(kind, ways)` and `two_digit_model(kind)` build
a compiled `MetaModel` for every kind registered in `l2l.kinds`, so a benchmark can compare
them all on one task. l2l's own kinds are registered here with `register_kind`; a user's
learner joins them, and the benchmarks, the same way, without editing l2l (see
docs/extending.md). The registry prints the table of kinds (`python -m l2l.kinds`):

>>> from l2l import kinds
>>> print(kinds.table("classification"))  # doctest: +ELLIPSIS
| kind | learner -> predictor | idea | tasks |
| --- | --- | --- | --- |
| `pooled` | `PooledLearner` -> `ConditionedPredictor` (classes: `ClassCodePredictor`) | ...
...

Every kind builds regression and classification models except `protonet`, `matching`,
`versa`, `memory`, `statistician` and `statistician_elbo` (classification only; `memory` trains
on its own memory loss, the statistician kinds on the ELBO of `l2l.statistician` plus, for
`statistician`, the episode's cross-entropy at weight 1) and the two-digit kinds
(`two_digit_model` only). `width` and `depth` set every hidden size and the number of hidden
layers (attention blocks) at once; tests use tiny ones. Regression models output `[B, Q]` for one
target (`[B, Q, D]` for `output_units=D`); classification models output logits `[B, Q, ways]`
for integer labels `0..ways-1`.

For the two-digit same-number task, `two_digit_model`:

- `"features"`: a shared encoder embeds support and query images digit by digit (one conv net
  reads both 28x28 tiles, `SideBySideEncoder`); the learner averages the support embeddings
  into a prototype of the number; the predictor compares each query embedding with it.
- `"weights"`: the same encoder; the learner (a hypernetwork) emits the kernels and biases of the
  predictor's two dense layers, so each task gets its own classifier.
- `"original"`: our reading of the original proof of concept: separate learner and predictor
  conv stacks (three 16-filter 3x3 convolutions, dense 128), a 32-dimensional task code
  concatenated into the predictor, no batch normalisation, no comparison features.

Example:

>>> from l2l.presets import classification_model, regression_model, two_digit_model
>>> two_digit_model("weights").learner.__class__.__name__
'DenseWeightGenerator'
>>> regression_model("attention").learner.__class__.__name__
'AttentionLearner'
>>> classification_model("protonet", ways=5).learner.__class__.__name__
'PrototypeHeadGenerator'
"""

from __future__ import annotations

import dataclasses

import keras

from l2l import kinds
from l2l.compiling import compile_binary, compile_classification  # noqa: F401 (public here)
from l2l.errors import invalid_value
from l2l.kinds import SEQUENCE_LEARNING_RATE, SEQUENCE_REGRESSION_RATE, KindSettings, register_kind
from l2l.learners import (
    AttentionLearner,
    DenseWeightGenerator,
    FiLMGenerator,
    KeyValueMemory,
    MatchingLearner,
    PooledLearner,
    PrototypeHeadGenerator,
    SequenceLearner,
    SupportSetLearner,
    VersaHeadGenerator,
)
from l2l.models import CausalMetaModel, MetaModel
from l2l.networks import SideBySideEncoder, conv_encoder
from l2l.ops import check_ways
from l2l.predictors import (
    AttentivePredictor,
    ClassCodePredictor,
    ConditionedPredictor,
    FiLMPredictor,
    GeneratedDensePredictor,
    MatchingPredictor,
    MemoryLoss,
    NearestKeyPredictor,
    StatisticianPredictor,
    WeightedCrossEntropy,
)
from l2l.statistician import NeuralStatistician
from l2l.validation import check_learning_rate

__all__ = ["CLASSIFICATION_KINDS", "REGRESSION_KINDS", "TWO_DIGIT_KINDS", "KindSettings",
           "classification_model", "compile_binary", "compile_classification",
           "register_kind", "regression_model", "two_digit_model"]

# --------------------------------------------------------------------------- l2l's own kinds
# Each builder makes its layers in the order the models were always made in (initialisers
# draw their seeds when constructed), so seeded runs are unchanged by the registry.


def _pooled(s: KindSettings):
    if s.task == "classification":  # one code per class: see PooledLearner's `pool`
        return (PooledLearner(code_dim=s.width, units=s.hidden, ways=s.ways, pool="classes"),
                ClassCodePredictor(units=s.hidden))
    return (PooledLearner(code_dim=s.width, units=s.hidden),
            ConditionedPredictor(units=s.hidden, output_units=s.outputs, interaction=False))


def _attention(s: KindSettings):
    if s.task == "classification":
        return (AttentionLearner(dim=s.width, blocks=s.depth, units=s.hidden, ways=s.ways),
                AttentivePredictor(dim=s.width, units=s.hidden, output_units=s.outputs))
    return (AttentionLearner(dim=s.width, blocks=s.depth, units=(2 * s.width,)),
            AttentivePredictor(dim=s.width, units=s.hidden, output_units=s.outputs))


def _sequence(s: KindSettings):
    if s.task == "classification":
        return (SequenceLearner(units=s.width, ways=s.ways),
                ConditionedPredictor(units=s.hidden, output_units=s.outputs, interaction=False))
    # Regression (issue 14, benchmarks/sequence_ablation): (x_t, y_t) pairs, a query MLP
    # before the comparison predictor, the support loss of CausalMetaModel and Adam 1e-2
    # together leave the affine-fit plateau on quadratics (each alone does not).
    query = keras.Sequential([keras.layers.Dense(u, activation="relu") for u in s.hidden],
                             name="query_mlp")
    return (SequenceLearner(units=s.width, delay_labels=False),
            ConditionedPredictor(units=s.hidden, output_units=s.outputs, encoder=query,
                                 interaction=True))


def _sequence_pairs(s: KindSettings):
    # The ablation in examples/sequence_ablation.py: at width 64 and Adam 1e-3 the LSTM stalls
    # at the affine fit of a quadratic (MSE ~0.1); (x_t, y_t) pairs, a two-layer step
    # embedding, twice the units, the comparison predictor and Adam 3e-3 halve it at equal
    # steps, at 4x the cost per step. Not the default "sequence": it has not yet been shown to
    # win at equal training time.
    return (SequenceLearner(units=2 * s.width, delay_labels=False,
                            embed_units=(2 * s.width, 2 * s.width)),
            ConditionedPredictor(units=s.hidden, output_units=s.outputs, interaction=True))


def _hyper(s: KindSettings):
    ways = {"ways": s.ways} if s.task == "classification" else {}
    return (DenseWeightGenerator(layer_units=(s.width,) * s.depth + (s.outputs,),
                                 code_dim=s.width, units=s.hidden, **ways),
            GeneratedDensePredictor())


def _film(s: KindSettings):
    if s.task == "regression":
        return (FiLMGenerator(channels=s.hidden, code_dim=s.width, units=s.hidden),
                FiLMPredictor(blocks=s.hidden, output_units=s.outputs))
    encoder = s.image_encoder((16, 16))  # the learner's set encoder; the predictor reads raw x
    blocks = (max(s.width // 2, 1),) * (s.depth + 2)
    return (FiLMGenerator(channels=blocks, code_dim=s.width, units=s.hidden, encoder=encoder,
                          ways=s.ways),
            FiLMPredictor(blocks=blocks, head="prototypes", input_scale=s.input_scale), None)


def _statistician(s: KindSettings):
    # The statistician's own encoder reads the raw examples (the likelihood needs the pixels),
    # so the model has no shared encoder; the context is `width` wide, every MLP `s.hidden`.
    statistician = NeuralStatistician(s.image_encoder(), context_dim=s.width, units=s.hidden,
                                      decoder_units=(4 * s.width,), input_scale=s.input_scale)
    return SupportSetLearner(s.ways), StatisticianPredictor(statistician), None


DIGIT_FILTERS = (16, 32, 64)
"""Conv filters of the two-digit kinds' default per-digit encoder (64 features per digit)."""


def digit_encoder(residual: bool = False) -> keras.Sequential:
    """The two-digit kinds' per-digit encoder: `conv_encoder(DIGIT_FILTERS, units=64)`, with
    residual blocks if `residual` (pass it as `two_digit_model(digit_encoder=...)`)."""
    return conv_encoder(DIGIT_FILTERS, units=64, name="digit_encoder", residual=residual)


def _digit_encoder(s: KindSettings) -> SideBySideEncoder:
    """The caller's per-digit encoder (`s.encoder`), else the default, shared by both digits."""
    return SideBySideEncoder(s.encoder if s.encoder is not None else digit_encoder(), parts=2)


def _two_digit_features(s: KindSettings):
    return (PooledLearner(code_dim=None, use_labels=False),
            ConditionedPredictor(units=(128,)), _digit_encoder(s))


def _two_digit_siamese(s: KindSettings):
    return (PooledLearner(code_dim=None, use_labels=False),
            ConditionedPredictor(units=(128,), compare_only=True), _digit_encoder(s))


def _two_digit_weights(s: KindSettings):
    return (DenseWeightGenerator(layer_units=(64, 1), use_labels=False),
            GeneratedDensePredictor(), _digit_encoder(s))


def _two_digit_original(s: KindSettings):
    def stack(name):
        return conv_encoder((16, 16, 16), units=128, batch_norm=False, name=name)
    return (PooledLearner(code_dim=32, units=(), encoder=stack("learner_conv"), use_labels=False),
            ConditionedPredictor(units=(128,), encoder=stack("predictor_conv"), interaction=False),
            None)


_SEQUENCE_REGRESSION = {"sequence": {
    "models": {"regression": CausalMetaModel},
    "learning_rate": {"regression": SEQUENCE_REGRESSION_RATE}}}
"""The `"sequence"` kind's regression model: trained on every support target too, Adam 1e-2."""

for _name, _build, _summary in [
        ("pooled", _pooled, ("`PooledLearner` -> `ConditionedPredictor` (classes: "
                             "`ClassCodePredictor`)", "mean of an MLP of `(x, y)` (CNP); per "
                             "class for classification")),
        ("attention", _attention, ("`AttentionLearner` -> `AttentivePredictor`",
                                   "self- and cross-attention (ANP)")),
        ("sequence", _sequence, ("`SequenceLearner` -> `ConditionedPredictor`",
                                 "LSTM over the examples in order")),
        ("hyper", _hyper, ("`DenseWeightGenerator` -> `GeneratedDensePredictor`",
                           "generates all dense weights")),
        ("film", _film, ("`FiLMGenerator` -> `FiLMPredictor`",
                         "scales/shifts predictor channels (CNAPs)"))]:
    register_kind(_name, classification=_build, regression=_build, summary=_summary,
                  shared_encoder=_name != "film", **_SEQUENCE_REGRESSION.get(_name, {}))
register_kind("sequence_pairs", regression=_sequence_pairs, learning_rate=SEQUENCE_LEARNING_RATE,
              summary=("`SequenceLearner` -> `ConditionedPredictor`",
                       "LSTM over (x, y) pairs, wider, Adam 3e-3 (regression)"))
register_kind("protonet", summary=("`PrototypeHeadGenerator` -> `GeneratedDensePredictor`",
                                   "Prototypical Networks"),
              classification=lambda s: (PrototypeHeadGenerator(s.ways),
                                        GeneratedDensePredictor()))
register_kind("matching", summary=("`MatchingLearner` -> `MatchingPredictor`",
                                   "Matching Networks"),
              classification=lambda s: (MatchingLearner(s.ways), MatchingPredictor()))
register_kind("versa", summary=("`VersaHeadGenerator` -> `GeneratedDensePredictor`",
                                "per-class amortised head"),
              classification=lambda s: (VersaHeadGenerator(s.ways, units=s.hidden),
                                        GeneratedDensePredictor()))
register_kind("memory", summary=("`KeyValueMemory` -> `NearestKeyPredictor`",
                                 "Kaiser et al.'s memory module (margin loss)"),
              classification=lambda s: (KeyValueMemory(s.ways), NearestKeyPredictor()),
              loss=lambda s: MemoryLoss(margin=0.1))
register_kind("statistician", shared_encoder=False, classification=_statistician,
              summary=("`SupportSetLearner` -> `StatisticianPredictor`",
                       "Neural Statistician: nearest context by KL; ELBO + episode loss"))
register_kind("statistician_elbo", shared_encoder=False, classification=_statistician,
              loss=lambda s: WeightedCrossEntropy(0.0),
              summary=("`SupportSetLearner` -> `StatisticianPredictor`",
                       "Neural Statistician trained on the ELBO only, as in the paper"))
register_kind("features", two_digit=_two_digit_features,
              summary=("`PooledLearner` -> `ConditionedPredictor`",
                       "prototype of a number, from a shared digit encoder"))
register_kind("siamese", two_digit=_two_digit_siamese,
              summary=("`PooledLearner` -> `ConditionedPredictor(compare_only=True)`",
                       "as features, judged from `|q - c|` and `q * c` only"))
register_kind("weights", two_digit=_two_digit_weights,
              summary=("`DenseWeightGenerator` -> `GeneratedDensePredictor`",
                       "generates the predictor's dense layers"))
register_kind("original", two_digit=_two_digit_original,
              summary=("`PooledLearner` -> `ConditionedPredictor`",
                       "our reading of the original proof of concept"))

TWO_DIGIT_KINDS = kinds.names("two_digit")
REGRESSION_KINDS = kinds.names("regression")
CLASSIFICATION_KINDS = kinds.names("classification")
"""l2l's own kinds; `l2l.kinds.names(task)` lists a user's registered kinds too."""

# --------------------------------------------------------------------------- building models


def two_digit_model(kind: str = "features", learning_rate: float = 1e-3,
                    decay_steps: int | None = None,
                    jit_compile: bool | str = "auto", weight_decay: float = 0.0,
                    digit_encoder: keras.layers.Layer | None = None) -> MetaModel:
    """A compiled `MetaModel` for the two-digit task: logits `[B, Q]`, 1 = same number.

    `digit_encoder` replaces the default per-digit encoder (`digit_encoder()`); both digits of
    a number go through it (`SideBySideEncoder`), e.g. `digit_encoder(residual=True)` for
    residual blocks. The
    `original` kind has its own encoders and refuses one.

    `decay_steps` anneals the learning rate to zero along a cosine over that many steps (set
    it to the planned number of training steps); `None` keeps it constant. `weight_decay`
    above 0 trains with AdamW's decoupled decay at that rate (see `compile_binary`).
    """
    if digit_encoder is not None and kind == "original":
        raise invalid_value("digit_encoder", digit_encoder, "None for the `original` kind",
                            "the original kind keeps the original experiment's own encoders; "
                            "drop digit_encoder or choose another kind")
    model = kinds.get_kind(kind, "two_digit").model(
        KindSettings("two_digit", encoder=digit_encoder))
    if decay_steps is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            check_learning_rate(learning_rate), decay_steps)
    compile_binary(model, learning_rate, jit_compile, weight_decay=weight_decay)
    return model


def regression_model(kind: str = "pooled", output_units: int = 1, width: int = 64,
                     depth: int = 2, learning_rate: float | None = None,
                     jit_compile: bool | str = "auto") -> MetaModel:
    """A compiled `MetaModel` for regression on vector inputs `[B, n, D]` (MSE loss).

    `learning_rate` (Adam) defaults to the kind's own (`l2l.kinds.SEQUENCE_REGRESSION_RATE`
    for `"sequence"`, `SEQUENCE_LEARNING_RATE` for `"sequence_pairs"`), else 1e-3. The
    `"sequence"` kind builds a `CausalMetaModel` (see `_sequence`).

    Args:
        kind: a kind registered for regression (`l2l.kinds.names("regression")`).
        output_units: size of each target; 1 gives predictions `[B, Q]`.
        width: hidden size of every network (codes, attention, LSTM, hidden layers).
        depth: hidden layers of every MLP, attention blocks, FiLM blocks.
    """
    settings = KindSettings("regression", width=width, depth=depth, outputs=output_units)
    model_kind = kinds.get_kind(kind, "regression")
    model = model_kind.model(settings, name=f"{kind}_regression")
    learning_rate = model_kind.learning_rate_for("regression", learning_rate)
    model.compile(optimizer=keras.optimizers.Adam(check_learning_rate(learning_rate)),
                  loss=model_kind.loss_for(settings, "mse"), jit_compile=jit_compile)
    return model


def classification_model(kind: str, ways: int, encoder: keras.layers.Layer | None = None,
                         width: int = 64, depth: int = 1, input_scale: float = 1 / 255,
                         learning_rate: float | None = None,
                         jit_compile: bool | str = "auto",
                         label_smoothing: float = 0.0) -> MetaModel:
    """A compiled `MetaModel` for N-way classification: logits `[B, Q, ways]`.

    The loss is cross-entropy unless the kind brings its own (`"memory"`: Kaiser et al.'s
    margin loss); `learning_rate` defaults to the kind's own, else 1e-3; `label_smoothing`
    smooths the cross-entropy's targets (`compile_classification`; refused for a kind with
    its own loss).

    Args:
        kind: a kind registered for classification (`l2l.kinds.names("classification")`).
        ways: classes per episode; episodes with fewer classes work too.
        encoder: the per-example embedding network shared by support and query examples;
            by default `l2l.networks.conv_encoder` for images `[H, W, C]` with `width` outputs.
            For `"film"` it is the learner's set encoder instead: the `FiLMPredictor` reads
            the raw examples (conv blocks for images, dense blocks for vectors).
        width: hidden size of every network.
        depth: hidden layers of every MLP, attention blocks; FiLM conv blocks are `depth + 2`.
        input_scale: scale of raw inputs in the default encoders (1/255: uint8 pixels).
    """
    ways = check_ways(ways)
    if ways is None:
        raise invalid_value("ways", ways, "an integer >= 2 (classes per episode)")
    model_kind = kinds.get_kind(kind, "classification")
    settings = KindSettings("classification", width=width, depth=depth, outputs=ways, ways=ways,
                            encoder=encoder, input_scale=input_scale)
    if model_kind.shared_encoder:
        settings = dataclasses.replace(settings, encoder=settings.image_encoder())
    model = model_kind.model(settings, name=f"{kind}_{ways}way")
    rate = model_kind.learning_rate_for("classification", learning_rate)
    return compile_classification(model, rate, jit_compile, loss=model_kind.loss_for(settings),
                                  label_smoothing=label_smoothing)
