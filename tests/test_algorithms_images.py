"""Every gradient-based meta-learner learns few-shot image classification on conv nets: trained
on synthetic digit images of some classes, it beats chance on classes it never saw; and a conv
MAML trains under XLA."""

import keras
import numpy as np
import pytest

from benchmarks.gradient_speed import algorithm
from l2l.evaluation import evaluate
from l2l.tasks import FewShotClassification
from tests.conftest import synthetic_digits

WAYS = 3


def tiny_conv(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((14, 14, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(WAYS, activation="softmax")])


@pytest.fixture(scope="module")
def tasks():
    images, labels = synthetic_digits(per_digit=30, noise=60.0, seed=3)
    small = images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))[..., None].astype("uint8")
    train = FewShotClassification(small, labels, ways=WAYS, shots=1, queries=2,
                                  classes=np.arange(6))
    test = FewShotClassification(small, labels, ways=WAYS, shots=1, queries=3,
                                 classes=np.arange(6, 10))
    return train, test.fixed_episodes(100, seed=1)


@pytest.mark.parametrize("name", ["maml", "fomaml", "anil", "meta_sgd", "reptile",
                                  "scale_rates"])
def test_every_algorithm_on_a_conv_net_beats_chance_on_unseen_classes(name, tasks):
    train, held_out = tasks
    model = algorithm(name, tiny_conv(), inner_learning_rate=0.4 if name != "reptile" else 0.1,
                      test_steps=3, meta_learning_rate=3e-3)
    model.fit(train.dataset(8, seed=0), steps_per_epoch=25, verbose=0)
    score = evaluate(model, held_out)
    assert score.mean - score.ci95 > 1 / WAYS + 0.1, score


def test_a_conv_maml_trains_under_xla(tasks):
    train, _ = tasks
    model = algorithm("maml", tiny_conv(), jit_compile=True)
    before = [v.numpy() for v in model.model.trainable_variables]
    history = model.fit(train.dataset(4, seed=0), steps_per_epoch=3, verbose=0)
    assert model.jit_compile is True and np.isfinite(history.history["loss"]).all()
    moved = [np.abs(v.numpy() - b).max() for v, b in zip(model.model.trainable_variables, before,
                                                         strict=True)]
    assert min(moved) > 0
