"""The registry of model kinds: a user's learner joins the presets and the benchmarks."""

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not a package
    sys.path.insert(0, str(ROOT))

from benchmarks.__main__ import main  # noqa: E402
from l2l import kinds  # noqa: E402
from l2l.errors import InvalidValueError  # noqa: E402
from l2l.presets import classification_model  # noqa: E402

USER_MODULE = '''
"""A user's own learner and the kind that pairs it, registered without editing l2l."""
import keras

from l2l.learners import FEATURES, Learner, register
from l2l.ops import label_features, masked_mean
from l2l.predictors import ConditionedPredictor
from l2l.presets import register_kind


@register
class MeanPairLearner(Learner):
    def __init__(self, ways=None, **kwargs):
        super().__init__(**kwargs)
        self.ways = ways

    def call(self, support_x, support_y, support_mask, training=None):
        y = label_features(support_y, self.ways, support_x.dtype)
        return {FEATURES: masked_mean(keras.ops.concatenate([support_x, y], -1), support_mask)}

    def get_config(self):
        return {**super().get_config(), "ways": self.ways}


def build(settings):
    return (MeanPairLearner(ways=settings.ways),
            ConditionedPredictor(units=settings.hidden, output_units=settings.outputs,
                                 interaction=False))


register_kind("mean_pair", classification=build, regression=build, replace=True,
              summary=("`MeanPairLearner` -> `ConditionedPredictor`", "mean of (x, y)"))
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_kinds.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_kinds"
    if "mean_pair" in kinds.names():
        kinds.unregister_kind("mean_pair")
    sys.modules.pop("user_kinds", None)


def test_a_user_kind_joins_the_benchmarks_and_classification_model(user_module, tmp_path):
    out, episodes = tmp_path / "out", tmp_path / "episodes"
    options = ["methods=mean_pair", "shots=5", "minutes_per_method=0.001",
               "steps_per_epoch=1", "batch_size=4", "test_episodes=20", "width=8", "depth=1"]
    argv = ["run", "sinusoid", "--quick", "--import", user_module, "--output", str(out),
            "--episode-dir", str(episodes)]
    assert main(argv + [a for o in options for a in ("-o", o)]) == 0
    rows = json.loads((out / "sinusoid.json").read_text())["rows"]
    assert [(r["method"], r["settings"]["shots"]) for r in rows] == [("mean_pair", 5)]
    assert np.isfinite(rows[0]["mean"]) and rows[0]["mean"] > 0

    # The same kind, now registered in this process, is a classification model too.
    assert "mean_pair" in kinds.names("classification") and "mean_pair" in kinds.table()
    import keras

    model = classification_model("mean_pair", ways=3, width=8,
                                 encoder=keras.Sequential([keras.layers.Dense(8)]))
    rng = np.random.default_rng(0)
    inputs = {"support_x": rng.normal(size=(2, 6, 4)).astype("float32"),
              "support_y": np.tile(np.arange(3), (2, 2)).astype("int32"),
              "support_mask": np.ones((2, 6), "float32"),
              "query_x": rng.normal(size=(2, 5, 4)).astype("float32")}
    assert type(model.learner).__name__ == "MeanPairLearner"
    assert tuple(model(inputs).shape) == (2, 5, 3) and model.name == "mean_pair_3way"


def test_registry_errors_name_the_problem_and_the_fix():
    with pytest.raises(InvalidValueError, match="not registered yet.*replace=True"):
        kinds.register_kind("protonet", classification=lambda s: None)
    with pytest.raises(InvalidValueError, match="at least one of"):
        kinds.register_kind("nothing")
    with pytest.raises(InvalidValueError, match="classification model kind; choose one of.*"
                                                "register_kind"):
        classification_model("maml", ways=5)
    with pytest.raises(InvalidValueError, match="regression model kind"):
        kinds.get_kind("protonet", "regression")
    assert kinds.names("two_digit") == ("features", "siamese", "weights", "original")
