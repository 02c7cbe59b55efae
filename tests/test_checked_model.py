"""Value checks hold under XLA, for every way data reaches a model (`l2l.checked_model`).

XLA compiles in-graph assertions away, so a model compiled with `jit_compile=True` checks its
data before the compiled step. Each bad batch below is the first one, so no step runs on it;
the weights are the same after the error as before.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from l2l.algorithms import MAML
from l2l.errors import InvalidValueError
from l2l.presets import classification_model

WAYS, EPISODES = 3, 4


def episodes(bad: str | None):
    rng = np.random.default_rng(0)
    x = {"support_x": rng.normal(size=(EPISODES, WAYS, 4)).astype("float32"),
         "support_y": np.tile(np.arange(WAYS), (EPISODES, 1)),
         "support_mask": np.ones((EPISODES, WAYS), "float32"),
         "query_x": rng.normal(size=(EPISODES, WAYS, 4)).astype("float32")}
    y = np.tile(np.arange(WAYS), (EPISODES, 1))
    if bad == "support_label":
        x["support_y"][0, 0] = WAYS
    elif bad == "query_nan":
        y = y.astype("float32")
        y[0, 1] = np.nan
    elif bad == "mask":
        x["support_mask"][0] = 0.5
    return x, y


def protonet():
    return classification_model("protonet", WAYS, encoder=keras.layers.Dense(4),
                                jit_compile=True)


def maml():
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(WAYS)])
    model = MAML(net, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 inner_learning_rate=0.1)
    model.compile(keras.optimizers.SGD(0.1), jit_compile=True)
    return model


def run(model, form: str, x, y):
    if form == "arrays":
        return model.fit(x, y, batch_size=2, verbose=0)
    if form == "dataset":
        return model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), verbose=0)
    if form == "generator":
        return model.fit(({k: v[i:i + 2] for k, v in x.items()}, y[i:i + 2])
                         for i in range(0, EPISODES, 2))
    if form == "train_on_batch":
        return model.train_on_batch(x, y)
    if form == "evaluate":
        return model.evaluate(x, y, verbose=0)
    return model.predict(x, verbose=0)


PROBLEMS = {"support_label": r"`support_y`: expected class labels in 0\.\.2.*from 0 to 3",
            "query_nan": r"`query_y`: expected finite numbers",
            "mask": r"`support_mask`: expected 0 \(padding\) or 1"}


# Every way in, every model family and every kind of bad value, each at least once.
CASES = [("arrays", protonet, "support_label"), ("arrays", maml, "mask"),
         ("dataset", maml, "query_nan"), ("dataset", maml, "support_label"),
         ("generator", protonet, "mask"), ("train_on_batch", maml, "query_nan"),
         ("evaluate", protonet, "support_label"), ("predict", maml, "mask")]


@pytest.mark.parametrize("form,build,bad", CASES,
                         ids=[f"{f}-{b.__name__}-{p}" for f, b, p in CASES])
def test_bad_values_raise_the_l2l_error_under_xla(form, build, bad):
    model = build()
    model({k: tf.constant(v) for k, v in episodes(None)[0].items()})  # built: weights known
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(InvalidValueError, match=PROBLEMS[bad]):
        run(model, form, *episodes(bad))
    for w, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)


def test_good_data_trains_under_xla_from_a_dataset():
    """The checks in the input pipeline pass good data through unchanged."""
    model = maml()
    x, y = episodes(None)
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), epochs=2,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("form", ["arrays", "predict"])
def test_an_operation_xla_cannot_compile_is_named_with_the_fix(form):
    """XLA's refusal (a raw `Graph execution error` from TensorFlow) becomes an l2l error."""
    area = keras.Sequential([keras.layers.Reshape((2, 2, 1)),
                             keras.layers.Resizing(3, 3, interpolation="area"),
                             keras.layers.Flatten()])
    model = classification_model("protonet", WAYS, encoder=area, jit_compile=True)
    with pytest.raises(InvalidValueError, match=r"`jit_compile`: .*runs ResizeArea, which XLA "
                                                r"cannot compile.*jit_compile=False"):
        run(model, form, *episodes(None))
