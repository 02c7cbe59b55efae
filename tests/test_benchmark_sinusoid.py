"""The sinusoid benchmark: learners, gradient-based algorithms and the simplemaml peer in one
run, scored on the same stored episodes, with diverged episodes counted, not hidden."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema, sinusoid  # noqa: E402
from benchmarks.common import episode_store  # noqa: E402
from l2l.episode_store import read_episode_set  # noqa: E402

TINY = dict(shots=(5, 10), minutes_per_method=0.001, steps_per_epoch=1, batch_size=4,
            meta_batch_size=4, test_episodes=20, width=8, depth=1, simplemaml_updates=1)


def test_quick_run_scores_learners_and_algorithms_on_the_same_episodes(tmp_path):
    episodes = tmp_path / "episodes"
    _, result = runner.run_benchmark(
        "sinusoid", quick=True, output=tmp_path, episode_dir=episodes,
        options=dict(methods=("pooled", "maml", "simplemaml"), val_episodes=10,
                     **{**TINY, "minutes_per_method": 0.05}))
    assert schema.validate(result) and Path(result["plot"]).is_file()
    rows = result["rows"]
    # A learning curve: validation after every 1-step epoch, on a set apart from the test set.
    for r in rows:
        if r["family"] != "peer":
            assert len(r["val_curve"]) == r["steps"] > 1 and np.isfinite(r["val_curve"]).all()
    (val_set, _), (test_set, _) = (read_episode_set(episodes / f"sinusoid-5shot-q50-{n}.h5")
                                   for n in ("val-n10-seed1", "test-n20-seed0"))
    assert not np.allclose(val_set.support_x, test_set.support_x[:10])
    families = {r["method"]: r["family"] for r in rows}
    assert families["pooled"] == "learner" and families["maml"] == "algorithm"
    # Every row of a shot count is scored on the same stored set of 20 episodes.
    assert sorted(p.name for p in episodes.iterdir()) == [
        "sinusoid-10shot-q50-test-n20-seed0.h5", "sinusoid-5shot-q50-test-n20-seed0.h5",
        "sinusoid-5shot-q50-val-n10-seed1.h5"]
    for k in (5, 10):
        at_k = [r for r in rows if r["settings"]["shots"] == k]
        assert {r["episodes_scored"] for r in at_k} == {20}
        assert all(r["episodes"] + r["diverged_episodes"] == 20 for r in at_k)
    # MAML: its own inner loop, 10 test steps, 10 steps with automatic stopping.
    loops = {(r["settings"]["test_steps"], r["settings"]["stop_tolerance"])
             for r in rows if r["method"] == "maml"}
    assert loops == {(1, None), (10, None), (10, 1e-3)}
    assert all(r["seconds_per_update"] > 0 and r["train_seconds"] > 0 for r in rows)
    maml_5 = next(r for r in rows if r["method"] == "maml" and r["settings"]["shots"] == 5
                  and r["settings"]["test_steps"] == 1)
    assert maml_5["published_mse"] == 1.13 and maml_5["config"]["inner_learning_rate"] == 0.01
    try:
        import simplemaml  # noqa: F401
        assert families["simplemaml"] == "peer"
    except ImportError:
        assert any("pip install -e .[bench]" in n for n in result["notes"])
    table = sinusoid.summarize(result)
    assert "| maml, 10 steps, auto-stop |" in table and "| pooled |" in table
    assert "| diverged (excluded) |" in table.splitlines()[0]


class _Predictions:
    """A stand-in model whose predictions are NaN, inf or finite but huge on some episodes."""

    def __init__(self, test, bad):
        self.predictions = np.zeros_like(test.query_y)
        self.predictions[bad[0]] = np.nan
        self.predictions[bad[1], 0] = np.inf
        self.predictions[bad[2:], 0] = 1e20

    def predict(self, inputs, batch_size=None, verbose=0):
        return self.predictions


def test_diverged_episodes_are_counted_and_the_mean_is_over_the_rest():
    from l2l.tasks import SinusoidTask

    test = SinusoidTask(shots=5, queries=7).fixed_episodes(12, seed=3)
    scored = sinusoid.score(_Predictions(test, [2, 5, 9]), test)
    finite = np.setdiff1d(np.arange(12), [2, 5, 9])
    assert scored["diverged_episodes"] == 3 and scored["episodes"] == 9
    assert scored["episodes_scored"] == 12
    assert scored["mean"] == pytest.approx(np.mean(test.query_y[finite] ** 2))
    notes = []
    (row,) = sinusoid._row("maml", scored, {"shots": 5, "test_steps": 10,
                                            "stop_tolerance": None}, 0, None, 1.0, notes,
                           seconds_per_update=0.01)
    assert not schema._check_row("row", row) and np.isfinite(row["mean"])
    notes_made = sinusoid._notes([row], 1.0, {5: 4.3})
    assert any("diverged" in n and "3 of 12" in n for n in notes_made)
    assert any("5-shot MSE over non-diverged (n = 9)" in n for n in notes_made)  # by label
    table = sinusoid.summarize({"rows": [row]})
    assert "| maml, 10 steps |" in table and "over non-diverged (n = 9)" in table
    # Every episode diverged: no mean, so no row, and a note says so.
    everything = sinusoid.score(_Predictions(test, list(range(12))), test)
    assert everything["mean"] is None
    assert sinusoid._row("maml", everything, {"shots": 5}, 0, None, 1.0, notes) == []
    assert "diverged on all 12 episodes" in notes[0]


def test_divergence_is_told_apart_from_no_learning():
    """A mean MSE near predicting zero is no learning; far above it, or with episodes over
    DIVERGED_MSE, the inner loop diverges; a learner well below it is neither."""
    def fake(method, mean, diverged=0):
        return {"method": method, "settings": {"shots": 5}, "mean": mean, "ci95": 0.1,
                "episodes": 100 - diverged, "episodes_scored": 100,
                "diverged_episodes": diverged, "maml_mse": None, "published_mse": None}

    rows = [fake("stuck", 3.9), fake("exploding", 13.0), fake("unstable", 2.0, diverged=5),
            fake("learned", 0.4)]
    notes = sinusoid._notes(rows, 1.0, {5: 4.3})
    failed = next(n for n in notes if n.startswith("Failed to learn"))
    diverging = next(n for n in notes if n.startswith("Diverging inner loop"))
    assert failed.endswith(": stuck.") and diverging.endswith(": exploding; unstable.")


def test_missing_simplemaml_is_skipped_with_a_note(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "simplemaml", None)  # `import simplemaml` fails
    with episode_store(tmp_path):
        result = sinusoid.run(quick=True, methods=("simplemaml",), **TINY)
    assert result["rows"] == []
    assert any("simplemaml is not installed" in n and "pip install -e .[bench]" in n
               for n in result["notes"])


@pytest.mark.parametrize("name", [n for n, m in sinusoid.METHODS.items()
                                  if m.family == "algorithm"])
def test_algorithms_ignore_the_padding_of_ragged_training_episodes(name):
    """Training batches of `SinusoidTask(shots=(1, 20)).dataset` are padded to 20 support
    points; what fills the padding must not change an algorithm's inner loop."""
    from l2l.tasks import SinusoidTask

    inputs, _ = next(iter(SinusoidTask(shots=(1, 20), queries=10).dataset(6, seed=0)))
    inputs = {k: v.numpy() for k, v in inputs.items()}
    assert inputs["support_mask"].sum(axis=1).min() < 20  # ragged
    garbage = dict(inputs)
    pad = inputs["support_mask"][..., None] == 0
    garbage["support_x"] = np.where(pad, 4.0, inputs["support_x"]).astype("float32")
    garbage["support_y"] = np.where(pad, -3.0, inputs["support_y"]).astype("float32")
    model = sinusoid.METHODS[name].build(xla=False)
    clean, noisy = (model.adapt(x, training=True) for x in (inputs, garbage))
    for a, b in zip(clean.params, noisy.params, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_an_unknown_method_is_named_with_the_choices():
    with pytest.raises(ValueError, match="Unknown method.*'mamll'.*choose from.*meta_sgd"):
        sinusoid.run(quick=True, methods=("mamll",))


@pytest.mark.parametrize("options, message", [
    ({"val_episodes": -1}, "val_episodes must be a number of episodes >= 0, got -1"),
    ({"curve_shots": 0}, "curve_shots must be a positive shot count"),
])
def test_bad_counts_are_named_before_any_training(options, message):
    with pytest.raises(ValueError, match=message):
        sinusoid.run(quick=True, methods=("pooled",), **options)
