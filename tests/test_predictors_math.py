"""Predictors against numpy references: generated weights, prototypes, FiLM, matching, masks."""

import keras
import numpy as np
import pytest

from l2l.learners import (
    CONTEXT,
    CONTEXT_KEYS,
    CONTEXT_MASK,
    FEATURES,
    WEIGHTS,
    FiLMGenerator,
    MatchingLearner,
    PrototypeHeadGenerator,
    VersaHeadGenerator,
)
from l2l.ops import ABSENT_CLASS_LOGIT, episode_matmul
from l2l.predictors import (
    AttentivePredictor,
    FiLMPredictor,
    GeneratedDensePredictor,
    MatchingPredictor,
)

rng = np.random.default_rng(0)


def _softmax(z):
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def test_generated_dense_predictor_applies_each_episodes_own_weights():
    w = {"kernel_0": rng.normal(size=(3, 4, 5)), "bias_0": rng.normal(size=(3, 5)),
         "kernel_1": rng.normal(size=(3, 5, 2)), "bias_1": rng.normal(size=(3, 2))}
    q = rng.normal(size=(3, 6, 4))
    out = np.asarray(GeneratedDensePredictor()(q.astype("f4"), {WEIGHTS: w}))
    for b in range(3):
        h = np.maximum(q[b] @ w["kernel_0"][b] + w["bias_0"][b], 0)
        np.testing.assert_allclose(out[b], h @ w["kernel_1"][b] + w["bias_1"][b], rtol=1e-4,
                                   atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 5, 1), (3, 5, 4), (3, 2, 5, 1), (3, 2, 5, 4)])
def test_episode_matmul_equals_each_episodes_matmul_with_its_gradients(shape):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape), "float32")
    kernel = tf.constant(rng.normal(size=(shape[0], shape[-1], 6)), "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, kernel])
        ours = episode_matmul(x, kernel)
        reference = tf.einsum("b...i,bij->b...j", x, kernel)
        ours_sum, reference_sum = tf.reduce_sum(ours**2), tf.reduce_sum(reference**2)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)
    for a, b in zip(tape.gradient(ours_sum, [x, kernel]),
                    tape.gradient(reference_sum, [x, kernel]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_prototype_head_is_prototypical_networks():
    """softmax(logits) = softmax(-squared distance to each class mean)."""
    x = rng.normal(size=(2, 6, 4)).astype("f4")
    y = np.array([[0, 1, 2, 0, 1, 2], [2, 2, 0, 1, 1, 0]])
    mask = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], "f4")
    q = rng.normal(size=(2, 5, 4)).astype("f4")
    logits = np.asarray(GeneratedDensePredictor()(q, PrototypeHeadGenerator(3)(x, y, mask)))
    for b in range(2):
        protos = np.stack([x[b][(y[b] == c) & (mask[b] > 0)].mean(0) for c in range(3)])
        distances = ((q[b][:, None] - protos[None]) ** 2).sum(-1)
        np.testing.assert_allclose(_softmax(logits[b]), _softmax(-distances), atol=1e-5)


def test_class_heads_give_absent_classes_no_chance():
    x, mask = rng.normal(size=(1, 4, 3)).astype("f4"), np.ones((1, 4), "f4")
    y = np.array([[0, 1, 0, 1]])  # 4-way model, two classes present
    for learner in (PrototypeHeadGenerator(4), VersaHeadGenerator(4, units=(8,))):
        bias = np.asarray(learner(x, y, mask)[WEIGHTS]["bias_0"])
        assert (bias[0, 2:] == ABSENT_CLASS_LOGIT).all() and (bias[0, :2] > -1e3).all()


def test_matching_predictor_is_cosine_attention_over_labels():
    keys = rng.normal(size=(2, 5, 4)).astype("f4")
    y = np.array([[0, 1, 2, 1, 0], [1, 1, 0, 2, 2]])
    mask = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], "f4")
    q = rng.normal(size=(2, 3, 4)).astype("f4")
    out = MatchingLearner(3)(keys, y, mask)
    logp = np.asarray(MatchingPredictor(scale=2.0)(q, out))
    for b in range(2):
        unit = keys[b] / np.linalg.norm(keys[b], axis=-1, keepdims=True)
        cos = (q[b] / np.linalg.norm(q[b], axis=-1, keepdims=True)) @ unit.T
        attention = _softmax(np.where(mask[b] > 0, 2.0 * cos, -np.inf))
        np.testing.assert_allclose(np.exp(logp[b]), attention @ np.eye(3)[y[b]], atol=1e-5)


def test_film_predictor_scales_and_shifts_each_channel():
    film = {"film_scale_0": rng.normal(size=(2, 3)).astype("f4"),
            "film_shift_0": rng.normal(size=(2, 3)).astype("f4")}
    q = rng.normal(size=(2, 4, 5)).astype("f4")
    predictor = FiLMPredictor(blocks=(3,))
    out = np.asarray(predictor(q, {WEIGHTS: film}))
    kernel, bias = (np.asarray(v) for v in predictor.block_layers[0].weights)
    head_kernel, head_bias = (np.asarray(v) for v in predictor.output_layer.weights)
    for b in range(2):
        h = (q[b] @ kernel + bias) * film["film_scale_0"][b] + film["film_shift_0"][b]
        np.testing.assert_allclose(out[b], (np.maximum(h, 0) @ head_kernel + head_bias)[:, 0],
                                   rtol=1e-4, atol=1e-5)


def test_film_conv_predictor_classifies_from_adapted_prototypes():
    """Queries and support images go through the same modulated convs; nearest class mean."""
    images = rng.integers(0, 256, size=(2, 6, 8, 8, 1)).astype("uint8")
    y = np.array([[0, 1, 2, 0, 1, 2], [2, 1, 0, 0, 1, 2]])
    out = FiLMGenerator(channels=(4, 4), code_dim=8, ways=3, encoder=keras.layers.Flatten())(
        images, y, np.ones((2, 6), "f4"))
    predictor = FiLMPredictor(blocks=(4, 4), head="prototypes", input_scale=1 / 255)
    queries = images[:, ::-1][:, :4]
    logits = np.asarray(predictor(queries, out))
    assert logits.shape == (2, 4, 3)
    support = np.asarray(predictor.embed(images, out[WEIGHTS]))
    embedded = np.asarray(predictor.embed(queries, out[WEIGHTS]))
    for b in range(2):
        protos = np.stack([support[b][y[b] == c].mean(0) for c in range(3)])
        distances = ((embedded[b][:, None] - protos[None]) ** 2).sum(-1)
        np.testing.assert_allclose(_softmax(logits[b]), _softmax(-distances), atol=1e-4)


def test_film_channel_mismatch_is_named():
    film = {"film_scale_0": np.ones((2, 5), "f4"), "film_shift_0": np.zeros((2, 5), "f4")}
    with pytest.raises(ValueError, match="set the learner's channels to \\(3,\\)"):
        FiLMPredictor(blocks=(3,))(np.ones((2, 4, 6), "f4"), {WEIGHTS: film})


def test_attentive_predictor_never_reads_padded_context():
    context = rng.normal(size=(2, 5, 8)).astype("f4")
    keys = rng.normal(size=(2, 5, 3)).astype("f4")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "f4")
    out = {CONTEXT: context, CONTEXT_KEYS: keys, CONTEXT_MASK: mask,
           FEATURES: rng.normal(size=(2, 8)).astype("f4")}
    predictor = AttentivePredictor(dim=8, heads=2, units=(8,))
    q = rng.normal(size=(2, 4, 3)).astype("f4")
    base = np.asarray(predictor(q, out))
    changed = dict(out, **{CONTEXT: np.where(mask[..., None] > 0, context, 1e3),
                           CONTEXT_KEYS: np.where(mask[..., None] > 0, keys, -1e3)})
    np.testing.assert_allclose(np.asarray(predictor(q, changed)), base, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("predictor", [AttentivePredictor(dim=8), MatchingPredictor()])
def test_predictors_name_the_learner_output_they_need(predictor):
    with pytest.raises(ValueError, match="needs the learner to emit 'context'"):
        predictor(np.ones((2, 4, 3), "f4"), {FEATURES: np.ones((2, 8), "f4")})


def test_matching_predictor_needs_embeddings_of_the_same_size():
    out = MatchingLearner(3)(np.ones((1, 3, 4), "f4"), np.array([[0, 1, 2]]), np.ones((1, 3)))
    with pytest.raises(ValueError, match="with the same D"):
        MatchingPredictor()(np.ones((1, 2, 5), "f4"), out)


def test_bad_predictor_settings_are_named():
    with pytest.raises(ValueError, match="choose one of"):
        FiLMPredictor(head="softmax")
    with pytest.raises(ValueError, match="scale must be positive"):
        MatchingPredictor(scale=0.0)
    with pytest.raises(ValueError, match="image queries"):
        FiLMPredictor()(np.ones((2, 3, 8, 8), "f4"),
                        {WEIGHTS: {"film_scale_0": np.ones((2, 32))}})


def test_per_class_pooling_and_class_codes_follow_a_relabelling():
    """`PooledLearner(pool="classes")` codes are per-class means of the embedded examples,
    padding ignored; `ClassCodePredictor` scores each class from its own code only, so
    relabelling an episode's classes permutes the logits the same way."""
    from l2l.learners import PooledLearner
    from l2l.predictors import ClassCodePredictor

    learner = PooledLearner(code_dim=None, ways=3, pool="classes", use_labels=False)
    x = rng.normal(size=(1, 4, 5)).astype("float32")
    y, mask = np.array([[0, 1, 1, 2]]), np.array([[1.0, 1.0, 0.0, 1.0]])
    out = learner(x, y, mask)
    expected = np.stack([x[0, 0], x[0, 1], x[0, 3]])  # class 1's second example is padding
    np.testing.assert_allclose(out[CONTEXT_KEYS][0], expected, atol=1e-6)
    np.testing.assert_array_equal(out[CONTEXT_MASK][0], [1, 1, 1])
    predictor = ClassCodePredictor(units=(8,))
    queries = rng.normal(size=(1, 6, 5)).astype("float32")
    logits = np.asarray(predictor(queries, out))
    perm = np.array([2, 0, 1])  # class c becomes perm[c]
    relabelled = np.asarray(predictor(queries, learner(x, perm[y], mask)))
    np.testing.assert_allclose(relabelled[..., perm], logits, atol=1e-5)
