"""The sequence learner's options (issue 14): stacked cells, input scales, the support loss."""

import keras
import numpy as np
import pytest

from l2l import kinds
from l2l.learners import SequenceLearner, online_predictions
from l2l.models import CausalMetaModel, MetaModel
from l2l.predictors import ConditionedPredictor
from l2l.presets import regression_model
from l2l.tasks import QuadraticTask


def _inputs(seed=0, batch=3, steps=5):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, steps, 2)).astype("float32")
    y = rng.uniform(-1, 1, (batch, steps, 1)).astype("float32")
    mask = np.ones((batch, steps), "float32")
    mask[0, 3:] = 0.0
    return x, y, mask


def _twin(learner, other, *inputs):
    """Build `other` like `learner` and give it the same weights."""
    learner(*inputs)
    other(*inputs)
    other.set_weights(learner.get_weights())
    return other


def test_stacked_cells_hold_every_state_top_first_and_ignore_padding():
    x, y, mask = _inputs()
    learner = SequenceLearner(units=4, lstm_layers=2)
    codes = keras.ops.convert_to_numpy(learner.step_codes(x, y, mask))
    assert codes.shape == (3, 5, 2 * 4 * 2 + 1)
    np.testing.assert_allclose(codes[0, 3:], codes[0, 2:3].repeat(2, axis=0), atol=1e-6)
    # Top first: the online features (h of the top cell) come from both cells; changing the
    # lower cell's recurrent weights changes them, so the top cell reads the lower one.
    lower = learner.rnn.cell.lstms[0]
    kernel = lower.recurrent_kernel
    kernel.assign(kernel.numpy() + 0.5)
    moved = keras.ops.convert_to_numpy(learner.step_codes(x, y, mask))
    assert not np.allclose(moved[..., :4], codes[..., :4])
    with pytest.raises(ValueError, match="lstm_layers"):
        SequenceLearner(units=4, lstm_layers=0)(x, y, mask)


def test_input_and_label_scales_multiply_what_the_lstm_reads():
    x, y, mask = _inputs()
    scaled = SequenceLearner(units=4, input_scale=0.2, label_scale=3.0)
    plain = _twin(scaled, SequenceLearner(units=4), x, y, mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scaled.step_codes(x, y, mask)),
                               keras.ops.convert_to_numpy(plain.step_codes(0.2 * x, 3 * y, mask)),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="input_scale"):
        SequenceLearner(units=4, input_scale=0)


def test_support_loss_is_the_masked_error_of_the_online_predictions():
    keras.utils.set_random_seed(0)
    episodes = QuadraticTask(dims=2, shots=(2, 6), queries=3).episodes(4, seed=0)
    model = CausalMetaModel(SequenceLearner(units=4),
                            ConditionedPredictor(units=(8,), interaction=False),
                            support_loss_weight=0.5)
    queries = keras.ops.convert_to_numpy(model(episodes.inputs(), training=True))
    (added,) = model.losses
    online = online_predictions(model, episodes)
    mask = episodes.support_mask
    expected = 0.5 * (((online - episodes.support_y[..., 0]) ** 2) * mask).sum() / mask.sum()
    assert float(added) == pytest.approx(expected, rel=1e-4)
    # The queries are answered as a MetaModel answers them: from the code of the whole set.
    np.testing.assert_allclose(queries, model.predict(episodes.inputs(), verbose=0), atol=1e-5)
    model(episodes.inputs(), training=False)
    assert not model.losses  # inference adds nothing
    with pytest.raises(ValueError, match="step_codes"):
        CausalMetaModel(keras.layers.Dense(2), ConditionedPredictor())


def test_a_kind_names_its_model_class_per_task():
    build = lambda s: (SequenceLearner(units=4), ConditionedPredictor(units=(4,)))  # noqa: E731
    kinds.register_kind("causal_test", regression=build, classification=build,
                        models={"regression": CausalMetaModel})
    try:
        assert type(regression_model("causal_test", width=4, depth=1)) is CausalMetaModel
        with pytest.raises(ValueError, match="`models`"):
            kinds.register_kind("causal_bad", regression=build, models={"two_digit": MetaModel})
    finally:
        kinds.unregister_kind("causal_test")


def test_probe_names_combine_their_changes():
    from benchmarks.sequence_ablation import BASE, recipe

    settings = recipe("pairs+lr3e-3")
    assert settings == {**BASE, "delay_labels": False, "learning_rate": 3e-3}
    with pytest.raises(ValueError, match="Unknown probe 'nope'"):
        recipe("pairs+nope")
