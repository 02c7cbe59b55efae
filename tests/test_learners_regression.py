"""Every regression learner kind: learns held-out tasks, ignores padding and order, saves.

Each kind is trained once (tiny width, a few hundred steps) and the trained model is shared by
the tests of this module. Held-out tasks are the tasks' evaluation stream (new functions).
"""

import keras
import numpy as np
import pytest
from eager_helper import Eager, predict_eagerly

from l2l.episodes import Episode
from l2l.evaluation import evaluate
from l2l.learners import SequenceLearner, online_predictions
from l2l.presets import REGRESSION_KINDS, regression_model
from l2l.tasks import QuadraticTask, SinusoidTask
from l2l.testing import check_learner

# The sequence learner is Hochreiter et al.'s LSTM: it is tested on their quadratic functions,
# which it learns in a few hundred steps (sinusoids take it thousands).
STEPS = {"pooled": 300, "attention": 300, "sequence": 400, "sequence_pairs": 200, "hyper": 300,
         "film": 300}
DEPTH = {"attention": 1}  # one attention block is enough here and halves its graph
SET_KINDS = [k for k in REGRESSION_KINDS if not k.startswith("sequence")]


def _task(kind):
    if kind == "sequence":
        return QuadraticTask(dims=2, shots=(2, 12), queries=10)
    return SinusoidTask(shots=(5, 10), queries=10)


@pytest.fixture(scope="module")
def trained():
    cache = {}

    def get(kind):
        if kind not in cache:
            keras.utils.set_random_seed(0)
            task = _task(kind)
            rate = 1e-2 if kind == "sequence" else 3e-3
            model = regression_model(kind, width=16, depth=DEPTH.get(kind, 2),
                                     learning_rate=rate, jit_compile=False)
            model.fit(task.dataset(32, seed=0), steps_per_epoch=STEPS[kind], epochs=1,
                      verbose=0)
            cache[kind] = model, task.fixed_episodes(200, seed=0)
        return cache[kind]

    return get


@pytest.mark.parametrize("kind", REGRESSION_KINDS)
def test_learner_beats_predicting_zero_on_held_out_tasks(kind, trained):
    model, test = trained(kind)
    score = evaluate(Eager(model), test, metric="mse")
    zero = float(np.mean(test.query_y ** 2))  # the task mean is zero: the trivial baseline
    assert score.mean + score.ci95 < 0.6 * zero, (kind, score, zero)


@pytest.mark.parametrize("kind", REGRESSION_KINDS)
def test_trained_learner_keeps_the_contract(kind, trained):
    """l2l.testing.check_learner: output shapes, support order (every kind but "sequence",
    which declares itself order-dependent), garbage in the padding, the .keras round trip.
    Its strategy check runs in tests/test_testing.py, in a process with two devices."""
    model, test = trained(kind)
    episode = test[:16]
    assert episode.support_mask.min() == 0  # ragged shots: some slots are padding
    assert (kind in SET_KINDS) == model.learner.order_invariant
    check_learner(model, episode, atol=1e-4, strategy=None)


def test_sequence_learner_reads_the_support_set_in_order(trained):
    model, test = trained("sequence")
    episode = test[:16]
    real = int(episode.support_mask.sum(axis=1).min())
    order = np.r_[np.arange(real)[::-1], np.arange(real, episode.support_size)]
    reversed_ = Episode(episode.support_x[:, order], episode.support_y[:, order],
                        episode.query_x, episode.query_y, episode.support_mask[:, order])
    assert np.abs(predict_eagerly(model, reversed_) - predict_eagerly(model, episode)).max() > 1e-3


def test_sequence_learner_skips_padded_steps_anywhere(trained):
    """Padding in the middle of the sequence leaves the state as if the step were absent."""
    model, _ = trained("sequence")
    episode = QuadraticTask(dims=2, shots=6, queries=5).episodes(8, seed=3)
    gap = np.full((8, 3, 2), 9.0, "float32")
    padded = Episode(
        np.concatenate([episode.support_x[:, :2], gap, episode.support_x[:, 2:]], axis=1),
        np.concatenate([episode.support_y[:, :2], gap[..., :1], episode.support_y[:, 2:]], 1),
        episode.query_x, episode.query_y,
        np.concatenate([np.ones((8, 2)), np.zeros((8, 3)), np.ones((8, 4))], 1).astype("f4"))
    np.testing.assert_allclose(predict_eagerly(model, padded), predict_eagerly(model, episode),
                               rtol=1e-4, atol=1e-5)
    real = padded.support_mask[0] > 0
    np.testing.assert_allclose(online_predictions(model, padded)[:, real],
                               online_predictions(model, episode), rtol=1e-4, atol=1e-5)


def test_sequence_learner_predicts_online_better_with_more_examples(trained):
    model, test = trained("sequence")
    predictions = online_predictions(model, test)
    assert predictions.shape == test.support_y.shape[:2]
    errors = (predictions - test.support_y[..., 0]) ** 2
    mask = test.support_mask
    per_step = (errors * mask).sum(axis=0) / mask.sum(axis=0)  # step t: t examples seen
    assert per_step[6:].mean() < 0.85 * per_step[1], per_step.round(3)


def test_online_predictions_need_a_sequence_learner(trained):
    model, test = trained("pooled")
    with pytest.raises(ValueError, match="learner is a SequenceLearner"):
        online_predictions(model, test[:2])


def test_sequence_learner_needs_vector_examples():
    learner = SequenceLearner(units=4)
    with pytest.raises(ValueError, match="pass encoder="):
        learner(np.zeros((2, 3, 4, 4, 1)), np.zeros((2, 3)), np.ones((2, 3)))


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="`kind`: expected a regression model kind"):
        regression_model("protonet")
