"""Learners, predictors and MetaModel under Keras mixed precision (float16 and bfloat16).

Under a "mixed_*" policy layers compute in 16 bits and keep float32 variables; MetaModel must
still hand float32 logits to the loss, learn (beat predicting zero on held-out sinusoids), and
save and load as `.keras`.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from l2l.evaluation import mean_ci95, per_episode_mse
from l2l.learners import DenseWeightGenerator, PooledLearner
from l2l.models import MetaModel
from l2l.networks import conv_encoder
from l2l.predictors import ConditionedPredictor, GeneratedDensePredictor
from l2l.presets import compile_binary
from l2l.tasks import SinusoidTask, TwoDigitTask
from l2l.training import load_model

PAIRS = {
    "features": lambda enc: MetaModel(PooledLearner(code_dim=8, units=(8,)),
                                      ConditionedPredictor(units=(8,)), encoder=enc),
    "weights": lambda enc: MetaModel(DenseWeightGenerator(layer_units=(8, 1), code_dim=8,
                                                          units=(8,), input_dim=8),
                                     GeneratedDensePredictor(), encoder=enc),
}


@pytest.fixture
def use_policy():
    def use(name):
        keras.mixed_precision.set_global_policy(name)
        return name.split("_")[1]

    yield use
    keras.mixed_precision.set_global_policy("float32")


def dtype(x) -> str:
    return keras.backend.standardize_dtype(x.dtype)


@pytest.mark.parametrize("policy,kind", [("mixed_bfloat16", "weights"),
                                         ("mixed_float16", "features")])
def test_models_train_and_save_under_mixed_precision(policy, kind, use_policy, digits, tmp_path):
    compute = use_policy(policy)
    episode = TwoDigitTask(*digits, split="train", shots=(1, 2), queries=2).episodes(4, seed=0)
    model = compile_binary(PAIRS[kind](conv_encoder(filters=(4,), units=8)))
    history = model.fit(*episode.as_fit_data(), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.learner.compute_dtype == model.predictor.compute_dtype == compute
    assert all(dtype(w) == "float32" for w in model.weights)  # variables stay float32
    logits = model(episode.inputs())
    assert dtype(logits) == "float32"  # and so do the logits the loss sees
    if policy == "mixed_float16":  # Keras scales the loss so float16 gradients do not vanish
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert loaded.learner.compute_dtype == compute
    np.testing.assert_allclose(loaded(episode.inputs()), logits, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_training_in_16_bits_learns_held_out_tasks(policy, use_policy):
    """Not only a finite loss: after 100 steps the model beats predicting zero on new tasks,
    paired per episode, the whole 95% interval of the MSE difference below -10%."""
    use_policy(policy)
    keras.utils.set_random_seed(0)
    model = PAIRS["features"](keras.layers.Dense(8))
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    task = SinusoidTask(shots=5, queries=10)
    model.fit(task.dataset(16, seed=0), steps_per_epoch=100, epochs=1, verbose=0)
    test = task.fixed_episodes(100, seed=1)
    predictions = model.predict(test.inputs(), verbose=0)
    mse = per_episode_mse(predictions, test.query_y)
    zero = per_episode_mse(np.zeros_like(test.query_y), test.query_y)
    difference, ci = mean_ci95(mse - zero)
    assert difference + ci < -0.1 * zero.mean(), (mse.mean(), zero.mean(), difference, ci)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("data", ["images", "regression"])
def test_every_pairing_computes_in_16_bits_and_answers_in_float32(policy, kind, data,
                                                                   use_policy, digits):
    compute = use_policy(policy)
    if data == "images":
        episode = TwoDigitTask(*digits, split="val", shots=(1, 2), queries=2).episodes(3, 0)
        encoder = conv_encoder(filters=(4,), units=8)
    else:
        episode = SinusoidTask(shots=(2, 5), queries=4).episodes(3, seed=0)
        encoder = keras.layers.Dense(8)
    model = PAIRS[kind](encoder)
    predictions = model(episode.inputs())
    assert dtype(predictions) == "float32" and tuple(predictions.shape) == episode.query_y.shape[:2]
    assert model.learner.compute_dtype == model.predictor.compute_dtype == compute
    assert np.all(np.isfinite(predictions))
