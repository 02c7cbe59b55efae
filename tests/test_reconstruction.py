"""Recognition as reconstruction on tiny synthetic digits: beats chance on held-out images,
saves and loads, calibrates, and names its errors."""

import keras
import numpy as np
import pytest

from l2l.algorithms import MAML
from l2l.systems.reconstruction import ReconstructionClassifier, coordinate_mlp
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
