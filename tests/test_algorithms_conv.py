"""Gradient-based meta-learners on conv nets: the batched engine equals a loop over episodes
(outputs, inner-loop updates, second-order meta-gradients), has no loop over episodes in its
graph, compiles with XLA, and names the layers it cannot batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from l2l.algorithms import ANIL, MAML, UnsupportedLayerError
from l2l.algorithms.functional import per_example_loss

LOSS = "sparse_categorical_crossentropy"


def conv_net(dtype="float64", seed=0, ways=3):
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([
        keras.Input((6, 6, 2), dtype=dtype),
        keras.layers.Conv2D(3, 3, padding="same", kernel_initializer=init, dtype=dtype,
                            bias_initializer=keras.initializers.RandomNormal(0, 0.3, seed)),
        keras.layers.BatchNormalization(dtype=dtype), keras.layers.ReLU(dtype=dtype),
        keras.layers.MaxPooling2D(2, dtype=dtype),
        keras.layers.Conv2D(4, 2, kernel_initializer=init, dtype=dtype, use_bias=False),
        keras.layers.Flatten(dtype=dtype),
        keras.layers.Dense(ways, activation="softmax", kernel_initializer=init, dtype=dtype),
    ])


def conv_episodes(batch=3, ways=3, queries=2, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"support_x": rng.normal(size=(batch, ways, 6, 6, 2)).astype(dtype),
              "support_y": np.tile(np.arange(ways), (batch, 1)).astype("int32"),
              "support_mask": np.ones((batch, ways), dtype),
              "query_x": rng.normal(size=(batch, ways * queries, 6, 6, 2)).astype(dtype)}
    return inputs, np.tile(np.repeat(np.arange(ways), queries), (batch, 1)).astype("int32")


def loop_reference(net, inputs, query_y, lr, steps):
    """Episode by episode with Keras's own layers (`stateless_call`, batch statistics): query
    predictions, adapted parameters and the second-order meta-gradient."""
    theta = [tf.convert_to_tensor(v) for v in net.trainable_variables]
    fixed = [tf.convert_to_tensor(v) for v in net.non_trainable_variables]
    loss = keras.losses.get(LOSS)

    def run(params, x):
        return net.stateless_call(params, fixed, x, training=True)[0]

    with tf.GradientTape() as outer:
        outer.watch(theta)
        predictions, adapted, total = [], [], 0.0
        for b in range(len(query_y)):
            phi = list(theta)
            for _ in range(steps):
                with tf.GradientTape() as inner:
                    inner.watch(phi)
                    support = tf.reduce_mean(loss(inputs["support_y"][b],
                                                  run(phi, inputs["support_x"][b])))
                phi = [p - lr * g for p, g in zip(phi, inner.gradient(support, phi),
                                                  strict=True)]
            out = run(phi, inputs["query_x"][b])
            total += tf.reduce_mean(loss(query_y[b], out))
            predictions.append(out)
            adapted.append(phi)
        total = total / len(query_y)
    return (np.stack(predictions), [np.stack([a[i] for a in adapted]) for i in range(len(theta))],
            outer.gradient(total, theta))


@pytest.mark.parametrize("conv", ["grouped", "patches"])
def test_batched_conv_equals_a_loop_over_episodes(conv, monkeypatch):
    monkeypatch.setenv("L2L_BATCHED_CONV", conv)
    inputs, query_y = conv_episodes()
    net, lr, steps = conv_net(), 0.3, 2
    model = MAML(net, loss=LOSS, inner_steps=steps, inner_learning_rate=lr)
    expected_out, expected_params, expected_grads = loop_reference(net, inputs, query_y, lr,
                                                                   steps)
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        meta = tf.reduce_mean(per_example_loss(model.task_loss, query_y, out))
    grads = tape.gradient(meta, net.trainable_variables)
    adapted = model.adapt(inputs, training=True).params
    np.testing.assert_allclose(out, expected_out, atol=1e-5)
    for a, e in zip(adapted, expected_params, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-5)
    for g, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-5)
    first = MAML(net, loss=LOSS, inner_steps=steps, inner_learning_rate=lr, first_order=True)
    with tf.GradientTape() as tape:
        fo = tf.reduce_mean(per_example_loss(model.task_loss, query_y,
                                             first(inputs, training=True)))
    fo_grads = tape.gradient(fo, net.trainable_variables)
    second = max(float(np.abs(a - b).max()) for a, b in zip(fo_grads, grads, strict=True))
    assert second > 1e-4  # the second-order term is there


def _ops_in(function) -> set:
    graph = function.graph.as_graph_def()
    ops = {n.op for n in graph.node}
    for f in graph.library.function:
        ops |= {n.op for n in f.node_def}
    return ops


def test_the_train_step_has_no_loop_over_episodes():
    inputs, query_y = conv_episodes(dtype="float32")
    model = MAML(conv_net("float32"), loss=LOSS, inner_steps=2)
    model.compile(keras.optimizers.Adam(1e-3))
    step = tf.function(model.train_step)
    found = _ops_in(step.get_concrete_function(
        (tf.nest.map_structure(tf.constant, inputs), tf.constant(query_y))))
    loops = {"While", "StatelessWhile"}
    assert "Conv2D" in found and not found & loops
    # the inspection sees a loop where there is one (the pfor path's conv fallback is one,
    # but tracing it costs half a minute)
    looped = tf.function(lambda x: tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 2),
                                                 (0, x))[1])
    assert _ops_in(looped.get_concrete_function(tf.constant(1.0))) & loops


def test_unsupported_layers_raise_one_clear_error():
    net = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, strides=2),
                            keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(UnsupportedLayerError, match=r"'conv2d.*' \(Conv2D\) has strides"):
        MAML(net)
    lstm = keras.Sequential([keras.Input((4, 2)), keras.layers.LSTM(3), keras.layers.Dense(2)])
    with pytest.raises(UnsupportedLayerError, match=r"\(LSTM\) has no batched per-episode form"):
        MAML(lstm)
    MAML(lstm, vectorize="pfor")  # the escape hatch the message names
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3)(inputs)
    residual = keras.Model(inputs, keras.layers.Add()([hidden, keras.layers.Dense(3)(hidden)]))
    with pytest.raises(UnsupportedLayerError, match="branches, merges or is shared"):
        MAML(residual)
    with pytest.raises(ValueError, match="vectorize"):
        MAML(conv_net(), vectorize="loop")
    with pytest.raises(ValueError, match="batch_norm"):
        MAML(conv_net(), batch_norm="global")


def test_a_functional_chain_runs_like_the_same_sequential_model():
    inputs, _ = conv_episodes()
    sequential = conv_net()
    x = y = keras.Input((6, 6, 2), dtype="float64")
    for layer in sequential.layers:  # fresh copies: a chain of layers used once
        y = type(layer).from_config(layer.get_config())(y)
    functional = keras.Model(x, y)
    functional.set_weights(sequential.get_weights())
    np.testing.assert_allclose(MAML(functional, loss=LOSS)(inputs),
                               MAML(sequential, loss=LOSS)(inputs), atol=1e-12)


def test_anil_adapts_only_the_head():
    inputs, _ = conv_episodes()
    net = conv_net()
    model = ANIL(net, loss=LOSS, inner_learning_rate=0.5)
    adapted = model.adapt(inputs, training=True).params
    head = model.adapted_variables()
    assert head == [False] * (len(head) - 2) + [True, True]
    for p, v, h in zip(adapted, net.trainable_variables, head, strict=True):
        if h:
            assert p.shape == (3, *v.shape) and np.abs(p - v.numpy()).max() > 1e-4
        else:
            np.testing.assert_array_equal(p, v.numpy())
    assert ANIL.from_config(model.get_config()).head_layers == 1


def test_running_batch_norm_updates_moving_statistics_and_predicts_each_query_alone():
    inputs, query_y = conv_episodes(dtype="float32")
    net = conv_net("float32")
    model = MAML(net, loss=LOSS, batch_norm="running", inner_learning_rate=0.1)
    model.compile(keras.optimizers.SGD(0.0))
    bn = net.layers[1]
    before = bn.moving_mean.numpy().copy()
    model.train_on_batch(inputs, query_y)
    assert np.abs(bn.moving_mean.numpy() - before).max() > 1e-4
    full = model(inputs)
    one = dict(inputs, query_x=inputs["query_x"][:, :1])
    np.testing.assert_allclose(model(one), full[:, :1], atol=1e-5)
    transductive = MAML(net, loss=LOSS, inner_learning_rate=0.1)
    assert np.abs(transductive(one) - full[:, :1]).max() > 1e-3
