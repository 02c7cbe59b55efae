"""The suite's intervals hold for small samples: Student's t for means, order statistics for
medians, and verdicts read from the correct interval."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from l2l.evaluation import mean_ci95, median_ci95, t_quantile

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import runner  # noqa: E402
from benchmarks.common import median_interval, paired_difference, verdict  # noqa: E402

# t(0.975, df) from printed tables (and scipy.stats.t.ppf), to 4 decimals.
T_TABLE = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 9: 2.2622, 19: 2.0930,
           29: 2.0452, 99: 1.9842, 999: 1.9623, 5000: 1.9604}


@pytest.mark.parametrize("df, expected", sorted(T_TABLE.items()))
def test_t_quantile_matches_printed_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_other_levels_and_bad_arguments():
    assert t_quantile(0.95, 10) == pytest.approx(1.8125, abs=1e-4)
    assert t_quantile(0.995, 4) == pytest.approx(4.6041, abs=1e-4)
    for p, df in ((0.975, 0), (0.4, 5), (0.975, 2.5)):
        with pytest.raises(ValueError, match="t_quantile needs"):
            t_quantile(p, df)


def test_mean_interval_covers_95_percent_with_four_values():
    """With 4 normal values the 1.96 interval covers about 88%; Student's t covers 95%."""
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(5_000, 4))
    half = np.array([mean_ci95(s)[1] for s in samples])
    covered = np.abs(samples.mean(axis=1)) <= half
    assert covered.mean() == pytest.approx(0.95, abs=0.01)
    assert mean_ci95([2.0]) == (2.0, 0.0)


def test_median_interval_is_distribution_free_and_absent_below_six_values():
    rng = np.random.default_rng(1)
    samples = rng.exponential(size=(5_000, 9))  # skewed: the true median is log 2
    bounds = np.array([median_ci95(s)[1:] for s in samples])
    covered = (bounds[:, 0] <= np.log(2)) & (np.log(2) <= bounds[:, 1])
    assert covered.mean() == pytest.approx(0.961, abs=0.01)  # P(ranks 2..8 hold it)
    assert median_ci95([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, None, None)
    assert median_interval([0.3, 0.2, 0.4]) == {"ci95": None, "median_ci95": None}


def test_transfer_verdict_follows_the_t_interval_of_the_stored_repeats():
    """The stored transfer run: with 5 repeats, keeping 25% of units is no longer 'worse'."""
    result = json.loads((ROOT / "benchmarks" / "results" / "transfer.json").read_text())
    by = {(r["method"], r["settings"]["target_images_per_digit"]): r for r in result["rows"]}
    keep, scratch = by[("activation_keep_25", 10)], by[("scratch", 10)]
    difference = paired_difference(keep["per_repeat"], scratch["per_repeat"])
    assert difference["ci95"] == pytest.approx(
        t_quantile(0.975, 4) / 1.96 * 0.007457, rel=1e-3)  # was ±0.7 points with z
    assert verdict("activation_keep_25", "scratch", difference).startswith(
        "activation_keep_25 does not beat scratch (-0.8 ± 1.1 points")
    assert keep["vs_scratch"] == difference  # the committed JSON was recomputed with t


def test_recompute_rebuilds_a_stored_result_and_is_idempotent(tmp_path):
    source = json.loads((ROOT / "benchmarks" / "results" / "sinusoid.json").read_text())
    source["plot"] = None  # nothing to redraw
    (tmp_path / "sinusoid.json").write_text(json.dumps(source))
    (first,) = runner.recompute(tmp_path, ["sinusoid"])
    once = json.loads(first.read_text())
    runner.recompute(tmp_path, ["sinusoid"])
    twice = json.loads(first.read_text())
    once.pop("recomputed"), twice.pop("recomputed")
    assert once == twice and once["settings"]["interval"] == "student-t"
    notes = " ".join(once["notes"])
    assert "meta_sgd, 10 steps: 5-shot MSE over non-diverged (n = 908)" in notes
    assert "Failed to learn" in notes and "Diverging inner loop" in notes
    failed = next(n for n in once["notes"] if n.startswith("Failed to learn"))
    assert "simplemaml" in failed and "meta_sgd" not in failed  # divergence is not no-learning
