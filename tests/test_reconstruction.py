"""Recognition as reconstruction on tiny synthetic digits: beats chance on held-out images,
saves and loads, calibrates, and names its errors."""

import keras
import numpy as np
import pytest

from l2l.algorithms import MAML
from l2l.systems.reconstruction import (
    ReconstructionClassifier,
    adaptation_trace,
    coordinate_mlp,
    hidden_activations,
)
from l2l.tasks import ImageAsDataset

CLASSES = [1, 7]


def small_model():
    model = MAML(coordinate_mlp(units=(32, 32)), inner_steps=1, inner_learning_rate=0.1)
    model.compile(keras.optimizers.Adam(3e-3))
    return model


@pytest.fixture(scope="module")
def data(digits):
    images, labels = digits
    images = images[:, ::2, ::2]  # 14 x 14: a small dataset of 196 pixels per image
    rows = np.flatnonzero(np.isin(labels, CLASSES))
    train, test = rows[rows % 3 != 0], rows[rows % 3 == 0]
    return images, labels.astype("int64"), train, test


@pytest.fixture(scope="module")
def trained(data):
    images, labels, train, _ = data
    keras.utils.set_random_seed(0)
    classifier = ReconstructionClassifier(CLASSES, build=small_model, shots=40, queries=60)
    classifier.fit(images, labels, steps=120, batch_size=8, indices=train)
    return classifier


@pytest.fixture(scope="module")
def held_out(data):
    images, labels, _, test = data
    task = ImageAsDataset(images, labels, shots=40, indices=test)
    return task.fixed_episodes(60, seed=0, with_info=True)


def test_best_reconstruction_recognises_held_out_images(trained, held_out):
    episodes, info = held_out
    score = trained.evaluate(episodes, info["labels"])
    assert score.mean - score.ci95 > 0.8, score  # chance is 1/2
    errors = trained.reconstruction_errors(episodes)
    own = errors[np.arange(len(errors)), np.searchsorted(CLASSES, info["labels"])]
    assert own.mean() < errors.mean()


def test_probabilities_are_calibrated_softmaxes(trained, held_out):
    episodes, info = held_out
    errors = trained.reconstruction_errors(episodes)
    temperature = trained.calibrate(errors, info["labels"])
    p = trained.predict_proba(episodes, errors=errors)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(CLASSES)[p.argmax(axis=1)],
                                  trained.predict(episodes, errors=errors))
    assert 1e-5 <= temperature <= 10.0


def test_saved_classifier_loads_and_gives_the_same_errors(trained, held_out, tmp_path):
    episodes, _ = held_out
    trained.save(tmp_path)
    loaded = ReconstructionClassifier.load(tmp_path)
    assert loaded.classes == CLASSES and loaded.temperature == trained.temperature
    for c in CLASSES:
        for a, b in zip(loaded.models[c].weights, trained.models[c].weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    inputs = episodes[:10].inputs()
    np.testing.assert_allclose(loaded.models[7].predict(inputs, verbose=0),
                               trained.models[7].predict(inputs, verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_errors_are_named(held_out, tmp_path):
    with pytest.raises(ValueError, match="at least two distinct"):
        ReconstructionClassifier([3])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        ReconstructionClassifier([1, 2], temperature=0.0)
    with pytest.raises(ValueError, match="call fit"):
        ReconstructionClassifier([1, 2]).reconstruction_errors(held_out[0])
    with pytest.raises(FileNotFoundError, match="not a directory written by"):
        ReconstructionClassifier.load(tmp_path / "nothing")
    images = np.zeros((4, 6, 6), "float32")
    with pytest.raises(TypeError, match="GradientMetaLearner"):
        ReconstructionClassifier([0, 1], build=coordinate_mlp, shots=4, queries=4).fit(
            images, np.array([0, 1, 0, 1]), steps=1)


def test_adaptation_trace_is_the_adapted_network_layer_by_layer():
    keras.utils.set_random_seed(0)
    model = MAML(coordinate_mlp(units=(5, 4)), inner_learning_rate=0.5, test_steps=2)
    images = np.random.default_rng(0).random((3, 4, 4)).astype("float32")
    episodes = ImageAsDataset(images, shots=6).fixed_episodes(3, seed=0)
    trace = adaptation_trace(model, episodes)  # test_steps (2) inner steps

    def forward(w1, b1, w2, b2, w3, b3):  # per episode, by hand
        h1 = np.maximum(np.einsum("bnx,bxu->bnu", episodes.query_x, w1) + b1[:, None], 0)
        h2 = np.maximum(np.einsum("bnx,bxu->bnu", h1, w2) + b2[:, None], 0)
        return h1, h2, (np.einsum("bnx,bxu->bnu", h2, w3) + b3[:, None])[..., 0]

    adapted = [np.asarray(p) for p in model.adapt(episodes.inputs(), steps=2).params]
    initial = [np.broadcast_to(v.numpy(), (3, *v.shape)) for v in model.model.weights]
    for when, params in (("after", adapted), ("before", initial)):
        h1, h2, out = forward(*params)
        for got, want in zip(trace[f"hidden_{when}"] + [trace[when]], (h1, h2, out),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trace["after"], model.predict(episodes.inputs(), verbose=0)[
        ..., 0], rtol=1e-5, atol=1e-6)
    assert np.abs(trace["hidden_after"][1] - trace["hidden_before"][1]).max() > 1e-3
    with pytest.raises(ValueError, match="hidden Dense layers"):
        hidden_activations(model, adapted, episodes.query_x, layers=(2,))
