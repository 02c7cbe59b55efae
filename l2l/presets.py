"""Ready-made learner/predictor pairings for the two-digit same-number task.

- `"features"`: a shared encoder embeds support and query images digit by digit (one conv net
  reads both 28x28 tiles, `SideBySideEncoder`); the learner averages the support embeddings
  into a prototype of the number; the predictor compares each query embedding with it.
- `"weights"`: the same encoder; the learner (a hypernetwork) emits the kernels and biases of the
  predictor's two dense layers, so each task gets its own classifier.
- `"original"`: our reading of the original proof of concept: separate learner and predictor
  conv stacks (three 16-filter 3x3 convolutions, dense 128), a 32-dimensional task code
  concatenated into the predictor, no batch normalisation, no comparison features.

Example:

>>> from l2l.presets import two_digit_model
>>> model = two_digit_model("weights")
>>> model.learner.__class__.__name__
'DenseWeightGenerator'
"""

from __future__ import annotations

import keras

from l2l.learners import DenseWeightGenerator, PooledLearner
from l2l.models import MetaModel
from l2l.networks import SideBySideEncoder, conv_encoder
from l2l.predictors import ConditionedPredictor, GeneratedDensePredictor

TWO_DIGIT_KINDS = ("features", "weights", "original")


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
