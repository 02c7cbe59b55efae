"""Every classification learner kind on N-way episodes of classes never seen in training.

The images are synthetic (40 classes, one random 7x7 stroke template each, upsampled to 14x14
and drawn with heavy noise), so there are enough classes to hold 12 of them out. Models are
tiny; each is trained once and shared by the tests of this module.
"""

import keras
import numpy as np
import pytest
from eager_helper import Eager, predict_eagerly

from l2l.evaluation import evaluate
from l2l.learners import MatchingLearner, PrototypeHeadGenerator, VersaHeadGenerator
from l2l.presets import CLASSIFICATION_KINDS, classification_model
from l2l.tasks import FewShotClassification, class_splits
from l2l.testing import check_learner

WAYS = 3
# Kinds trained here; the others learn in tests/test_learners_regression.py and are checked
# here for shapes, invariances and saving. Steps are what each needs for a robust margin.
STEPS = {"pooled": 300, "protonet": 100, "matching": 100, "versa": 300, "film": 60,
         "hyper": 300, "sequence": 300, "memory": 100}
CLASS_HEADS = ("protonet", "matching", "versa", "film", "memory")
STARTS_AT_CHANCE = ("pooled", "versa", "hyper", "sequence")
# Above chance by this much (lower bound of the 95% interval), default 0.2: the sequence
# learner (a recurrent pass over the support set) learns slowest in a test-sized budget.
MARGIN = {"sequence": 0.05}


def synthetic_classes(classes=40, per_class=20, noise=60.0, seed=0):
    rng = np.random.default_rng(seed)
    templates = (rng.random((classes, 7, 7)) > 0.5).astype("float32") * 255.0
    templates = templates.repeat(2, axis=1).repeat(2, axis=2)
    labels = np.repeat(np.arange(classes), per_class)
    images = templates[labels] + rng.normal(0.0, noise, size=(len(labels), 14, 14))
    return np.clip(images, 0, 255).astype(np.uint8)[..., None], labels


@pytest.fixture(scope="module")
def data():
    x, labels = synthetic_classes()
    splits = class_splits(labels, (0.7, 0.3))

    def task(split, ways=WAYS):
        return FewShotClassification(x, labels, ways=ways, shots=(1, 3), queries=2,
                                     classes=splits[split])

    return task


def _encoder():
    return keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                             keras.layers.Dense(16, activation="relu")])


def _model(kind, ways=WAYS):
    # For "film" the encoder is the learner's set encoder; its predictor convolves raw images.
    return classification_model(kind, ways, encoder=_encoder(), width=16, learning_rate=3e-3,
                                jit_compile=False)


@pytest.fixture(scope="module")
def models(data):
    cache = {}
    test = data("test").fixed_episodes(200, seed=0)

    def get(kind):
        if kind not in cache:
            keras.utils.set_random_seed(0)
            model = _model(kind)
            before = evaluate(Eager(model), test) if kind in STARTS_AT_CHANCE else None
            predict_eagerly(model, test[:2])  # build every weight, trained or not
            if kind in STEPS:
                model.fit(data("train").dataset(16, seed=0), steps_per_epoch=STEPS[kind],
                          epochs=1, verbose=0)
            cache[kind] = model, before, test
        return cache[kind]

    return get


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_learner_beats_chance_on_held_out_classes(kind, models):
    model, before, test = models(kind)
    after = evaluate(Eager(model), test)
    margin = MARGIN.get(kind, 0.2)
    assert after.mean - after.ci95 > 1 / WAYS + margin, (kind, before, after)
    if kind in STARTS_AT_CHANCE:  # learning, not a lucky random encoder, is what lifts them
        assert after.mean > before.mean + min(0.15, margin), (kind, before, after)


@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_logits_have_one_column_per_class(kind, models):
    model, _, test = models(kind)
    assert predict_eagerly(model, test[:4]).shape == (4, test.query_size, WAYS)


@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_learner_keeps_the_contract_on_images(kind, models):
    """l2l.testing.check_learner: support order (every kind but "sequence"), garbage images and
    labels in the padding, the .keras round trip. Its strategy check runs in
    tests/test_testing.py, in a process with two devices."""
    model, _, test = models(kind)
    episode = test[:8]
    assert episode.support_mask.min() == 0  # ragged shots: some slots are padding
    assert (kind not in ("sequence", "memory")) == model.learner.order_invariant
    check_learner(model, episode, atol=1e-4, strategy=None)


@pytest.mark.parametrize("kind", CLASS_HEADS)
def test_fewer_ways_than_built_never_predict_an_absent_class(kind, data):
    """A 5-way model on 3-way episodes: classes 3 and 4 have no support example."""
    keras.utils.set_random_seed(0)
    model = _model(kind, ways=5)
    predicted = predict_eagerly(model, data("test", ways=3).episodes(8, seed=0)).argmax(-1)
    assert predicted.max() < 3


@pytest.mark.parametrize("learner", [PrototypeHeadGenerator, VersaHeadGenerator,
                                     MatchingLearner])
def test_class_learners_need_ways(learner):
    with pytest.raises(ValueError, match="ways"):
        learner(None)


def test_class_learners_need_embeddings(data):
    episode = data("test").episodes(2, seed=0)
    with pytest.raises(ValueError, match="give the MetaModel an encoder"):
        PrototypeHeadGenerator(WAYS)(episode.support_x, episode.support_y,
                                     episode.support_mask)


def test_unknown_kind_and_bad_ways_are_named():
    with pytest.raises(ValueError, match="`kind`: expected a classification model kind"):
        classification_model("maml", ways=5)
    with pytest.raises(ValueError, match="`ways`: expected an integer >= 2"):
        classification_model("protonet", ways=1)
