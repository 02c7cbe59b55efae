"""The extension API: the LearnerOutput contract, labels, registration and saving."""

import keras
import numpy as np
import pytest

from l2l.learners import (
    CONTEXT,
    FEATURES,
    AttentionLearner,
    DenseWeightGenerator,
    FiLMGenerator,
    Learner,
    PooledLearner,
    register,
)
from l2l.models import MetaModel
from l2l.ops import check_ways, label_features, masked_mean
from l2l.predictors import ConditionedPredictor
from l2l.serialization import register as serialization_register
from l2l.tasks import SinusoidTask

SUPPORT = (np.ones((2, 3, 4), "float32"), np.ones((2, 3, 1), "float32"),
           np.ones((2, 3), "float32"))


@register
class MeanLearner(Learner):
    """The smallest learner: the task code is the mean support example and label."""

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, support_x, support_y, support_mask, training=None):
        pairs = keras.ops.concatenate([support_x, support_y], axis=-1)
        return {FEATURES: self.scale * masked_mean(pairs, support_mask)}

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class Returns(Learner):
    """A learner returning whatever it was given, to test the contract checks."""

    def __init__(self, output, **kwargs):
        super().__init__(**kwargs)
        self.returned = output

    def call(self, support_x, support_y, support_mask, training=None):
        return self.returned


def test_register_is_the_one_serialization_mechanism():
    assert register is serialization_register
    assert keras.saving.get_registered_object("l2l>MeanLearner") is MeanLearner


def test_custom_learner_saves_and_loads_in_a_meta_model(tmp_path):
    episode = SinusoidTask(shots=4, queries=3).episodes(4, seed=0)
    model = MetaModel(MeanLearner(scale=2.0), ConditionedPredictor(units=(8,)))
    before = np.asarray(model(episode.inputs()))
    model.save(tmp_path / "mean.keras")
    loaded = keras.models.load_model(tmp_path / "mean.keras")
    assert isinstance(loaded.learner, MeanLearner) and loaded.learner.scale == 2.0
    np.testing.assert_allclose(np.asarray(loaded(episode.inputs())), before, atol=1e-6)


@pytest.mark.parametrize("output, message", [
    ([1.0], "expected a non-empty dict"),
    ({}, "expected a non-empty dict"),
    ({"feature": np.ones((2, 4))}, "unknown LearnerOutput keys \\['feature'\\]"),
    ({CONTEXT: np.ones((2, 3, 4))}, "expected the context keys .* together"),
    ({"weights": np.ones((2, 4, 1))}, "expected a dict of per-episode tensors"),
    ({FEATURES: np.ones((2, 3, 4))}, "expected a tensor of rank 2.*'features' of shape "
     "\\(2, 3, 4\\)"),
])
def test_broken_learner_outputs_are_named(output, message):
    with pytest.raises(ValueError, match=message):
        Returns(output)(*SUPPORT)


def test_learner_without_call_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="must implement call"):
        Learner()(*SUPPORT)


def test_integer_labels_need_ways():
    labels = np.array([[0, 1, 2]], dtype="int32")
    with pytest.raises(ValueError, match="pass ways=N"):
        PooledLearner(code_dim=4)(np.ones((1, 3, 2)), labels, np.ones((1, 3)))
    with pytest.raises(ValueError, match="indices of shape \\[B, S\\]"):
        label_features(np.zeros((1, 3, 2)), 3, "float32")
    np.testing.assert_array_equal(label_features(labels[..., None], 3, "float32")[0],
                                  np.eye(3))


@pytest.mark.parametrize("ways", [1, 0, 2.5, "five", True])
def test_bad_ways_are_named(ways):
    with pytest.raises(ValueError, match="`ways`: expected an integer >= 2"):
        check_ways(ways)


def test_set_learners_read_the_class_of_each_example():
    """With ways, swapping which example has which label changes the code."""
    x = np.random.default_rng(0).normal(size=(1, 4, 3)).astype("float32")
    mask = np.ones((1, 4), "float32")
    for learner in (PooledLearner(code_dim=8, ways=2), AttentionLearner(dim=8, ways=2),
                    FiLMGenerator(channels=(4,), code_dim=8, ways=2)):
        a = learner(x, np.array([[0, 0, 1, 1]]), mask)[FEATURES]
        b = learner(x, np.array([[1, 1, 0, 0]]), mask)[FEATURES]
        assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-4, type(learner).__name__


def test_dense_weight_generator_classifies_with_ways():
    gen = DenseWeightGenerator(layer_units=(8, 5), code_dim=None, ways=5)
    out = gen(np.ones((2, 10, 6)), np.tile(np.arange(5), (2, 2)), np.ones((2, 10)))
    assert tuple(out["weights"]["kernel_1"].shape) == (2, 8, 5)
    assert tuple(out[FEATURES].shape) == (2, 6 + 5)  # the pooled [x, one-hot y]


def test_learners_without_an_encoder_name_it():
    images = np.zeros((2, 3, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="pass encoder="):
        AttentionLearner(dim=8)(images, np.zeros((2, 3)), np.ones((2, 3)))


def test_learner_encoders_built_in_training_infer_with_moving_statistics(tmp_path):
    """A learner's own encoder, first built inside `fit`, still infers in inference mode."""
    keras.utils.set_random_seed(0)
    episode = SinusoidTask(shots=4, queries=3).episodes(8, seed=0)
    encoder = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
    model = MetaModel(PooledLearner(code_dim=4, units=(), encoder=encoder),
                      ConditionedPredictor(units=(4,), interaction=False))
    model.compile(optimizer="adam", loss="mse", jit_compile=False)
    model.fit(*episode.as_fit_data(), epochs=1, verbose=0)  # builds everything in the trace
    statistics = np.asarray(encoder.layers[1].moving_mean)
    first = np.asarray(model(episode.inputs()))
    np.testing.assert_array_equal(np.asarray(encoder.layers[1].moving_mean), statistics)
    np.testing.assert_allclose(np.asarray(model(episode[:2].inputs())), first[:2], atol=1e-5)
    model.save(tmp_path / "bn.keras")
    loaded = keras.models.load_model(tmp_path / "bn.keras")
    np.testing.assert_allclose(np.asarray(loaded(episode.inputs())), first, atol=1e-5)
