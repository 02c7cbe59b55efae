"""MetaModel with each learner/predictor pairing: shapes, saving, errors, and real learning."""

import keras
import numpy as np
import pytest

from l2l.evaluation import evaluate
from l2l.learners import DenseWeightGenerator, PooledLearner
from l2l.models import MetaModel
from l2l.predictors import ConditionedPredictor, GeneratedDensePredictor
from l2l.presets import TWO_DIGIT_KINDS, two_digit_model
from l2l.tasks import TwoDigitTask


@pytest.fixture(scope="module")
def episode(digits):
    return TwoDigitTask(*digits, split="val", shots=(1, 3), queries=4).episodes(6, seed=0)


@pytest.mark.parametrize("kind", TWO_DIGIT_KINDS)
def test_presets_predict_one_logit_per_query(kind, episode):
    model = two_digit_model(kind)
    assert tuple(model(episode.inputs()).shape) == (6, 4)


@pytest.mark.parametrize("kind", TWO_DIGIT_KINDS)
def test_saved_model_loads_and_predicts_identically(kind, episode, tmp_path):
    model = two_digit_model(kind)
    model.fit(*episode.as_fit_data(), epochs=1, verbose=0)  # move BN statistics off defaults
    before = model.predict(episode.inputs(), verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.learner) is type(model.learner)
    np.testing.assert_allclose(loaded.predict(episode.inputs(), verbose=0), before, atol=1e-6)


def test_predictions_do_not_depend_on_padding_or_support_order(episode):
    model = MetaModel(PooledLearner(code_dim=8), ConditionedPredictor(units=(8,)),
                      encoder=keras.Sequential([keras.layers.Rescaling(1 / 255),
                                                keras.layers.Flatten()]))
    inputs = episode.inputs()
    base = model.predict(inputs, verbose=0)
    shuffled = dict(inputs)
    order = np.array([2, 0, 1])
    for key in ("support_x", "support_y", "support_mask"):
        shuffled[key] = inputs[key][:, order]
    np.testing.assert_allclose(model.predict(shuffled, verbose=0), base, rtol=1e-4, atol=1e-5)
    garbage = dict(inputs)
    garbage["support_x"] = np.where(inputs["support_mask"][..., None, None, None] > 0,
                                    inputs["support_x"], 255).astype(np.uint8)
    np.testing.assert_allclose(model.predict(garbage, verbose=0), base, rtol=1e-4, atol=1e-5)


def test_mismatched_learner_and_predictor_are_named(episode):
    model = MetaModel(PooledLearner(), GeneratedDensePredictor(), encoder=keras.layers.Flatten())
    with pytest.raises(ValueError, match="needs the learner to emit 'weights'"):
        model(episode.inputs())


def test_generated_weights_of_the_wrong_size_are_named(episode):
    encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(7)])
    model = MetaModel(DenseWeightGenerator(input_dim=5), GeneratedDensePredictor(),
                      encoder=encoder)
    with pytest.raises(ValueError, match="set the learner's input_dim to 7"):
        model(episode.inputs())


def test_missing_inputs_are_named(episode):
    inputs = episode.inputs()
    del inputs["support_mask"]
    with pytest.raises(ValueError, match="expected a dict with keys"):
        two_digit_model("features")(inputs)


@pytest.mark.parametrize("kind", ["features", "weights"])
def test_training_beats_chance_on_held_out_numbers(kind, digits):
    """Trained on 70 numbers, scored on 15 numbers it never saw (and unseen digit images)."""
    keras.utils.set_random_seed(0)
    train = TwoDigitTask(*digits, split="train", protocol="strict", queries=4)
    test = TwoDigitTask(*digits, split="test", protocol="strict", queries=2)
    model = two_digit_model(kind, learning_rate=1e-3)
    before = evaluate(model, test.fixed_episodes(400, seed=0))
    model.fit(train.dataset(16, seed=0), steps_per_epoch=150, epochs=1, verbose=0)
    after = evaluate(model, test.fixed_episodes(400, seed=0))
    assert after.mean - after.ci95 > 0.75, (before, after)
