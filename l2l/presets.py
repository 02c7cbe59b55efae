"""Ready-made learner/predictor pairings: one line for every learner kind.

`regression_model(kind)` and `classification_model(kind, ways)` build a compiled `MetaModel`
for each kind of learner l2l has, so a benchmark can compare them all on one task:

| kind | learner -> predictor | idea |
| --- | --- | --- |
| `"pooled"` | `PooledLearner` -> `ConditionedPredictor` | mean of an MLP of `(x, y)` (CNP) |
| `"attention"` | `AttentionLearner` -> `AttentivePredictor` | self- and cross-attention (ANP) |
| `"sequence"` | `SequenceLearner` -> `ConditionedPredictor` | LSTM over the examples in order |
| `"hyper"` | `DenseWeightGenerator` -> `GeneratedDensePredictor` | generates all dense weights |
| `"film"` | `FiLMGenerator` -> `FiLMPredictor` | scales/shifts predictor channels (CNAPs) |
| `"protonet"` | `PrototypeHeadGenerator` -> `GeneratedDensePredictor` | Prototypical Networks |
| `"matching"` | `MatchingLearner` -> `MatchingPredictor` | Matching Networks |
| `"versa"` | `VersaHeadGenerator` -> `GeneratedDensePredictor` | per-class amortised head |
| `"memory"` | `KeyValueMemory` -> `NearestKeyPredictor` | Kaiser et al.'s memory module |

The last four classify only (`"memory"` trains on its memory loss, `l2l.memory_module`).
`width` and `depth` set every hidden size and the number of hidden layers (attention blocks)
at once; tests use tiny ones. Regression models output `[B, Q]` for one target (`[B, Q, D]`
for `output_units=D`); classification models output logits `[B, Q, ways]` for integer labels
`0..ways-1`.

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

import keras

from l2l.learners import (
    AttentionLearner,
    DenseWeightGenerator,
    FiLMGenerator,
    MatchingLearner,
    PooledLearner,
    PrototypeHeadGenerator,
    SequenceLearner,
    VersaHeadGenerator,
)
from l2l.models import MetaModel
from l2l.networks import SideBySideEncoder, conv_encoder
from l2l.ops import check_ways
from l2l.predictors import (
    AttentivePredictor,
    ConditionedPredictor,
    FiLMPredictor,
    GeneratedDensePredictor,
    MatchingPredictor,
)

TWO_DIGIT_KINDS = ("features", "weights", "original")
REGRESSION_KINDS = ("pooled", "attention", "sequence", "hyper", "film")
SEQUENCE_LEARNING_RATE = 3e-3  # the LSTM regression learner trains faster at 3e-3 (issue 14)
CLASSIFICATION_KINDS = REGRESSION_KINDS + ("protonet", "matching", "versa", "memory")


def two_digit_model(kind: str = "features", learning_rate: float = 1e-3,
                    decay_steps: int | None = None,
                    jit_compile: bool | str = "auto") -> MetaModel:
    """A compiled `MetaModel` for the two-digit task: logits `[B, Q]`, 1 = same number.

    `decay_steps` anneals the learning rate to zero along a cosine over that many steps (set
    it to the planned number of training steps); `None` keeps it constant.
    """
    def digit_encoder():
        return SideBySideEncoder(conv_encoder((16, 32, 64), units=64, name="digit_encoder"),
                                 parts=2)

    if kind == "features":
        model = MetaModel(PooledLearner(code_dim=None, use_labels=False),
                          ConditionedPredictor(units=(128,)), encoder=digit_encoder())
    elif kind == "weights":
        model = MetaModel(DenseWeightGenerator(layer_units=(64, 1), use_labels=False),
                          GeneratedDensePredictor(), encoder=digit_encoder())
    elif kind == "original":
        def stack(name):
            return conv_encoder((16, 16, 16), units=128, batch_norm=False, name=name)
        model = MetaModel(
            PooledLearner(code_dim=32, units=(), encoder=stack("learner_conv"), use_labels=False),
            ConditionedPredictor(units=(128,), encoder=stack("predictor_conv"),
                                 interaction=False))
    else:
        raise ValueError(f"Unknown two-digit model kind {kind!r}; choose one of "
                         f"{TWO_DIGIT_KINDS}.")
    if decay_steps is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    compile_binary(model, learning_rate, jit_compile)
    return model


def compile_binary(model: keras.Model, learning_rate=1e-3,
                   jit_compile: bool | str = "auto") -> keras.Model:
    """Compile for binary answers given as logits: cross-entropy loss, accuracy at logit 0.

    `learning_rate` is a float or a `keras.optimizers.schedules.LearningRateSchedule`.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
        jit_compile=jit_compile,
    )
    return model


def regression_model(kind: str = "pooled", output_units: int = 1, width: int = 64,
                     depth: int = 2, learning_rate: float | None = None,
                     jit_compile: bool | str = "auto") -> MetaModel:
    """A compiled `MetaModel` for regression on vector inputs `[B, n, D]` (MSE loss).

    `learning_rate` (Adam) defaults to 1e-3, and to `SEQUENCE_LEARNING_RATE` for `"sequence"`.

    Args:
        kind: one of `REGRESSION_KINDS` (see the module docstring).
        output_units: size of each target; 1 gives predictions `[B, Q]`.
        width: hidden size of every network (codes, attention, LSTM, hidden layers).
        depth: hidden layers of every MLP, attention blocks, FiLM blocks.
    """
    hidden = (2 * width,) * _check_depth(depth)
    if kind == "pooled":
        learner = PooledLearner(code_dim=width, units=hidden)
        predictor = ConditionedPredictor(units=hidden, output_units=output_units,
                                         interaction=False)
    elif kind == "attention":
        learner = AttentionLearner(dim=width, blocks=depth, units=(2 * width,))
        predictor = AttentivePredictor(dim=width, units=hidden, output_units=output_units)
    elif kind == "sequence":
        # Issue 14's ablation (examples/sequence_ablation.py): at width 64 and Adam 1e-3 the
        # LSTM stalls at the affine fit of a quadratic (MSE ~0.1); (x_t, y_t) pairs, a
        # two-layer step embedding, twice the units, the comparison predictor and 3e-3 halve it.
        learner = SequenceLearner(units=2 * width, delay_labels=False,
                                  embed_units=(2 * width, 2 * width))
        predictor = ConditionedPredictor(units=hidden, output_units=output_units,
                                         interaction=True)
        learning_rate = SEQUENCE_LEARNING_RATE if learning_rate is None else learning_rate
    elif kind == "hyper":
        learner = DenseWeightGenerator(layer_units=(width,) * depth + (output_units,),
                                       code_dim=width, units=hidden)
        predictor = GeneratedDensePredictor()
    elif kind == "film":
        learner = FiLMGenerator(channels=hidden, code_dim=width, units=hidden)
        predictor = FiLMPredictor(blocks=hidden, output_units=output_units)
    else:
        raise ValueError(f"Unknown regression model kind {kind!r}; choose one of "
                         f"{REGRESSION_KINDS}.")
    learning_rate = 1e-3 if learning_rate is None else learning_rate
    model = MetaModel(learner, predictor, name=f"{kind}_regression")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse",
                  jit_compile=jit_compile)
    return model


def classification_model(kind: str, ways: int, encoder: keras.layers.Layer | None = None,
                         width: int = 64, depth: int = 1, input_scale: float = 1 / 255,
                         learning_rate: float = 1e-3,
                         jit_compile: bool | str = "auto") -> MetaModel:
    """A compiled `MetaModel` for N-way classification: logits `[B, Q, ways]`.

    Args:
        kind: one of `CLASSIFICATION_KINDS` (see the module docstring).
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
        raise ValueError("classification_model needs ways= (classes per episode).")
    if kind not in CLASSIFICATION_KINDS:
        raise ValueError(f"Unknown classification model kind {kind!r}; choose one of "
                         f"{CLASSIFICATION_KINDS}.")
    if kind == "memory":  # Kaiser et al.'s memory module, built by its own module
        from l2l.memory_module import memory_classifier

        return memory_classifier(ways, encoder, width, input_scale, learning_rate,
                                 jit_compile=jit_compile)
    if encoder is None:
        filters = (16, 16) if kind == "film" else (32, 32, 32)
        encoder = conv_encoder(filters, units=width, input_scale=input_scale)
    hidden = (2 * width,) * _check_depth(depth)
    if kind == "film":
        blocks = (max(width // 2, 1),) * (depth + 2)
        learner = FiLMGenerator(channels=blocks, code_dim=width, units=hidden, encoder=encoder,
                                ways=ways)
        predictor = FiLMPredictor(blocks=blocks, head="prototypes", input_scale=input_scale)
        encoder = None
    elif kind == "pooled":
        learner = PooledLearner(code_dim=width, units=hidden, ways=ways)
        predictor = ConditionedPredictor(units=hidden, output_units=ways, interaction=False)
    elif kind == "attention":
        learner = AttentionLearner(dim=width, blocks=depth, units=hidden, ways=ways)
        predictor = AttentivePredictor(dim=width, units=hidden, output_units=ways)
    elif kind == "sequence":
        learner = SequenceLearner(units=width, ways=ways)
        predictor = ConditionedPredictor(units=hidden, output_units=ways, interaction=False)
    elif kind == "hyper":
        learner = DenseWeightGenerator(layer_units=(width,) * depth + (ways,), code_dim=width,
                                       units=hidden, ways=ways)
        predictor = GeneratedDensePredictor()
    elif kind == "protonet":
        learner, predictor = PrototypeHeadGenerator(ways), GeneratedDensePredictor()
    elif kind == "matching":
        learner, predictor = MatchingLearner(ways), MatchingPredictor()
    else:  # "versa"
        learner, predictor = VersaHeadGenerator(ways, units=hidden), GeneratedDensePredictor()
    model = MetaModel(learner, predictor, encoder=encoder, name=f"{kind}_{ways}way")
    return compile_classification(model, learning_rate, jit_compile)


def compile_classification(model: keras.Model, learning_rate: float = 1e-3,
                           jit_compile: bool | str = "auto") -> keras.Model:
    """Compile for class logits `[B, Q, ways]` and integer labels: cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model


def _check_depth(depth: int) -> int:
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}.")
    return int(depth)
