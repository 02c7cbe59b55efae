"""The `reconstruction` and `transfer` benchmark modules: quick runs, baselines, bad options."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import reconstruction, runner, schema, transfer  # noqa: E402
from benchmarks.common import paired_difference, verdict  # noqa: E402
from l2l.episode_store import read_episode_set  # noqa: E402


def _quick(name, tmp_path, **options):
    """A quick run of benchmark `name` into `tmp_path`, checked against its file on disk."""
    path, result = runner.run_benchmark(name, quick=True, options=options, output=tmp_path,
                                        episode_dir=tmp_path / "episodes")
    assert path.parent == tmp_path and json.loads(path.read_text()) == result
    assert schema.validate(result) and result["mode"] == "quick"
    assert Path(result["plot"]).is_file() and Path(result["plot"]).parent == tmp_path
    return result


def test_quick_reconstruction_scores_method_and_baselines_on_the_same_images(mnist_dir,
                                                                             tmp_path):
    result = _quick("reconstruction", tmp_path, data_dir=mnist_dir)
    rows, settings = result["rows"], result["settings"]
    assert [r["method"] for r in rows] == ["reconstruction", *reconstruction.BASELINES]
    by = {r["method"]: r for r in rows}
    assert settings["ways"] == 2 and settings["chance"] == 0.5
    n = settings["test_images"]
    assert {r["episodes"] for r in rows} == {n} and len({r["scored_on"] for r in rows}) == 1
    assert all(r["metric"] == "accuracy" and r["train_images"] == 20 for r in rows)
    assert rows[0]["settings"] == {"train_images_per_class": 10, "test_steps": 1}
    assert rows[1]["settings"] == {"train_images_per_class": 10}
    assert rows[0]["vs_nearest_class_mean"]["pairs"] == n
    compared = rows[0]["vs_nearest_class_mean"]["difference"]
    assert compared == pytest.approx(rows[0]["mean"] - rows[2]["mean"], abs=1e-6)
    # 0 vs 1 from 10 images each: the method and the pixel-space baselines beat chance
    assert rows[0]["mean"] >= 0.7 and by["nearest_class_mean"]["mean"] >= 0.8
    assert by["knn_all_pixels"]["mean"] >= 0.8 and by["knn_shown_pixels"]["mean"] >= 0.7
    assert by["cnn_all_pixels"]["mean"] >= 0.7 and by["cnn_shown_pixels"]["mean"] >= 0.6
    assert by["knn_shown_pixels"]["pixels_read"] == 100 == rows[0]["pixels_adapted_on"]
    assert by["knn_all_pixels"]["pixels_read"] == 784 == rows[0]["pixels_read"]
    assert by["knn_all_pixels"]["k"] in settings["knn_candidates"]
    assert all(f"vs_{b}" in rows[0] for b in reconstruction.BASELINES)
    stored = sorted(p.name for p in (tmp_path / "episodes").iterdir())
    assert stored == [f"{rows[0]['scored_on']}.h5"]
    summary = reconstruction.summarize(result)
    assert "| 10 |" in summary and "reconstruction, 1 step" in summary
    assert "| CNN, shown pixels |" in summary and "k = " in summary
    picture = settings["picture"]  # digit 1's model adapted to three test images of a 1
    assert picture["digit"] == 1 and picture["test_steps"] == 1
    test = read_episode_set(tmp_path / "episodes" / stored[0])[0][picture["episodes"]]
    original = np.stack([reconstruction.decode_map(m) for m in picture["original"]])
    np.testing.assert_allclose(original.reshape(3, -1), test.query_y[..., 0], atol=0.5 / 255)
    shown = np.take_along_axis(original.reshape(3, -1), np.array(picture["shown"]), 1)
    np.testing.assert_allclose(shown, test.support_y[..., 0], atol=0.5 / 255)
    assert [np.shape(reconstruction.decode_map(m)) for m in picture["reconstruction"]] == [
        (28, 28)] * 3
    assert np.array(picture["shown"]).shape == (3, 100)
    assert [len(h["units"]) for h in picture["hidden"]] == [4, 4]
    for h in picture["hidden"]:
        assert len(h["before"]) == 4 and np.array(h["after"]).shape == (3, 4, 28)
        assert h["mean_change"] == sorted(h["mean_change"], reverse=True)
        decoded = reconstruction.decode_map(h["after"][2][0], h["scale"][0])
        assert decoded.shape == (28, 28) and 0 <= decoded.min() <= decoded.max() <= h["scale"][0]


def test_quick_transfer_always_runs_the_scratch_baseline(mnist_dir, tmp_path):
    result = _quick("transfer", tmp_path, methods=("fine_tune", "activation_keep_50"),
                    data_dir=mnist_dir)
    rows = result["rows"]
    assert [r["method"] for r in rows] == ["scratch", "fine_tune", "activation_keep_50"]
    images = result["settings"]["test_images"]
    for r in rows:
        assert r["episodes"] == 2 and len(r["per_repeat"]) == 2  # the interval is over repeats
        assert r["settings"] == {"target_images_per_digit": 10} and r["test_images"] == images
        assert r["mean"] > 0.5 > r["chance"]  # 10 images per digit: far above chance (0.2)
    assert rows[0]["kept_units"] is None and rows[2]["kept_units"] == [128, 128]
    assert "vs_scratch" not in rows[0] and rows[2]["vs_scratch"]["pairs"] == 2
    assert rows[2]["vs_fine_tune"]["difference"] == pytest.approx(
        rows[2]["mean"] - rows[1]["mean"], abs=1e-6)
    summary = transfer.summarize(result)
    assert "| activation_keep_50 |" in summary
    assert sum(f"{m} {v} scratch (" in summary for m in ("fine_tune", "activation_keep_50")
               for v in ("beats", "does not beat", "is worse than")) == 2


@pytest.mark.parametrize("name, options, message", [
    ("reconstruction", {"train_images_per_class": (0,)}, "integers >= 1 or 'all'"),
    ("reconstruction", {"train_images_per_class": ("some",)}, "integers >= 1 or 'all'"),
    ("reconstruction", {"ways": 11}, "ways must be 2..10"),
    ("reconstruction", {"test_steps": (0,)}, "test_steps must list"),
    ("transfer", {"methods": ("nope",)}, "Unknown method.*choose from"),
    ("transfer", {"target_images_per_digit": (0,)}, "integers >= 1"),
    ("transfer", {"repeats": 1}, "repeats must be >= 2"),
])
def test_bad_options_are_clear_errors(name, options, message):
    module = {"reconstruction": reconstruction, "transfer": transfer}[name]
    with pytest.raises(ValueError, match=message):
        module.run(quick=True, **options)


@pytest.mark.parametrize("name, option", [("reconstruction", "train_images_per_class"),
                                          ("transfer", "target_images_per_digit")])
def test_more_images_than_a_digit_has_is_a_clear_error(mnist_dir, name, option):
    module = {"reconstruction": reconstruction, "transfer": transfer}[name]
    with pytest.raises(ValueError, match="exceeds the .* rarest"):
        module.run(quick=True, data_dir=mnist_dir, **{option: (5000,)})


def test_verdict_needs_the_whole_interval_above_zero_to_say_beats():
    assert verdict("a", "b", paired_difference([1, 1, 1, 1], [0, 0, 0, 0])).startswith(
        "a beats b (+100.0 ± 0.0 points")
    assert verdict("a", "b", paired_difference([1, 0, 1, 0], [0, 0, 1, 1])).startswith(
        "a does not beat b (+0.0")
    assert verdict("a", "b", {"difference": -0.02, "ci95": 0.01, "pairs": 5}).startswith(
        "a is worse than b")
    with pytest.raises(ValueError, match="equally long"):
        paired_difference([1, 0], [1])
