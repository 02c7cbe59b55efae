"""Compiling l2l models: the loss, metrics and optimizer of each answer type.

`compile_binary` (same/different answers as logits) and `compile_classification` (class
logits and integer labels) are what the presets and benchmarks compile with, so a model built
by hand gets the same training setup.

Example:

>>> import keras
>>> from l2l.compiling import compile_classification
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
>>> compile_classification(model, learning_rate=1e-3).loss.name
'sparse_categorical_crossentropy'
"""

from __future__ import annotations

import keras

from l2l.errors import invalid_value
from l2l.losses import SmoothedSparseCrossentropy
from l2l.validation import check_fraction, check_learning_rate


def compile_binary(model: keras.Model, learning_rate=1e-3,
                   jit_compile: bool | str = "auto", weight_decay: float = 0.0) -> keras.Model:
    """Compile for binary answers given as logits: cross-entropy loss, accuracy at logit 0.

    `learning_rate` is a float or a `keras.optimizers.schedules.LearningRateSchedule`;
    `weight_decay` > 0 uses `keras.optimizers.AdamW` with that decay (0: plain Adam).
    """
    weight_decay = check_fraction("weight_decay", weight_decay, "1e-4")
    rate = check_learning_rate(learning_rate)
    model.compile(
        optimizer=keras.optimizers.AdamW(rate, weight_decay=weight_decay) if weight_decay
        else keras.optimizers.Adam(rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
        jit_compile=jit_compile,
    )
    return model


def compile_classification(model: keras.Model, learning_rate: float = 1e-3,
                           jit_compile: bool | str = "auto", loss=None,
                           label_smoothing: float = 0.0) -> keras.Model:
    """Compile for class logits `[B, Q, ways]` and integer labels: accuracy, and cross-entropy
    unless `loss` is given; `label_smoothing` > 0 smooths its targets
    (`l2l.losses.SmoothedSparseCrossentropy`)."""
    if check_fraction("label_smoothing", label_smoothing) and loss is not None:
        raise invalid_value("label_smoothing", label_smoothing, "0 when a loss is given",
                            "label smoothing is an option of the default cross-entropy; "
                            "smooth inside your own loss instead")
    if loss is None:
        loss = SmoothedSparseCrossentropy(label_smoothing) if label_smoothing else \
            keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.Adam(check_learning_rate(learning_rate)),
        loss=loss,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model
