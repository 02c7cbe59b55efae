"""`l2l.testing.check_learner`: passes on sound learners, names the check a broken one fails."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from l2l.learners import FEATURES, Learner, PooledLearner, SequenceLearner, register
from l2l.ops import masked_mean
from l2l.tasks import FewShotClassification, SinusoidTask
from l2l.testing import check_learner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ragged():
    return SinusoidTask(shots=(2, 6), queries=3).episodes(4, seed=0)


@register
class FirstExampleLearner(Learner):
    """Reads only the first support example: order-dependent without saying so."""

    def call(self, support_x, support_y, support_mask, training=None):
        return {FEATURES: keras.ops.concatenate([support_x[:, 0], support_y[:, 0]], -1)}


@register
class UnmaskedMeanLearner(Learner):
    """Averages every slot, padding included."""

    def call(self, support_x, support_y, support_mask, training=None):
        return {FEATURES: keras.ops.mean(support_x, axis=1)}


class UnregisteredLearner(Learner):
    def call(self, support_x, support_y, support_mask, training=None):
        return {FEATURES: masked_mean(support_x, support_mask)}


def test_sound_learners_pass_on_vectors_and_images(ragged):
    check_learner(PooledLearner(code_dim=8), ragged, strategy=None)
    check_learner(SequenceLearner(units=4), ragged, strategy=None)  # declares order-dependence
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 14, 14, 1), dtype=np.uint8)
    task = FewShotClassification(images, np.arange(60) % 6, ways=3, shots=2, queries=2)
    encoder = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                keras.layers.Dense(8)])
    check_learner(PooledLearner(code_dim=8, encoder=encoder, ways=3), task.episodes(3, seed=0),
                  strategy=None)  # no padding in these episodes: two garbage images appended


@pytest.mark.parametrize("learner, check", [
    (FirstExampleLearner(), "support order"),
    (UnmaskedMeanLearner(), "padding"),
    (UnregisteredLearner(), "serialisation round trip"),
])
def test_each_broken_promise_is_named_with_the_learner(learner, check, ragged):
    name = type(learner).__name__
    with pytest.raises(AssertionError, match=rf"check_learner\[{check}\] failed for {name}"):
        check_learner(learner, ragged, strategy=None)


def test_order_dependence_can_be_declared(ragged):
    check_learner(FirstExampleLearner(), ragged, order_invariant=False, strategy=None)


def test_strategy_check_runs_on_two_logical_devices():
    """A fresh process splits its CPU in two; a skipped strategy check would warn (an error)."""
    script = textwrap.dedent("""
        import warnings
        warnings.simplefilter("error", UserWarning)
        from l2l.training.distribute import logical_cpu_devices
        assert len(logical_cpu_devices(2)) == 2
        from l2l.learners import PooledLearner
        from l2l.tasks import SinusoidTask
        from l2l.testing import check_learner
        check_learner(PooledLearner(code_dim=8), SinusoidTask(shots=(2, 6)).episodes(4, seed=0))
        print("strategy check ran")
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "strategy check ran" in done.stdout, done.stderr[-3000:]
