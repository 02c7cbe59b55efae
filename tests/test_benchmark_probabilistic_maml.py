"""The probabilistic MAML benchmark's quick mode: both methods at every shot count."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402


def test_quick_run_scores_likelihood_and_coverage(tmp_path):
    _, result = runner.run_benchmark(
        "probabilistic_maml", quick=True, output=tmp_path, episode_dir=tmp_path / "episodes",
        options=dict(shots=(1, 2), minutes_per_method=0.001, test_episodes=6,
                     calibration_episodes=6, samples=3, meta_batch_size=2))
    assert schema.validate(result) and Path(result["plot"]).is_file()
    cells = {(r["method"], r["settings"]["shots"]) for r in result["rows"]}
    assert cells == {(m, k) for m in ("maml", "abml") for k in (1, 2)}
    for r in result["rows"]:
        assert r["metric"] == "log_likelihood" and r["episodes"] == 6
        assert 0 <= r["coverage95"][0] <= 1 and r["noise_std"] > 0
    assert set(result["settings"]["picture"]["1"]) == {"maml", "abml"}
    # ABML is compared with MAML paired over the same 6 test tasks, at each shot count.
    by = {(r["method"], r["settings"]["shots"]): r for r in result["rows"]}
    for k in (1, 2):
        paired = by["abml", k]["vs_maml"]
        assert paired["pairs"] == 6 and paired["ci95"] > 0
        assert abs(paired["difference"] - (by["abml", k]["mean"] - by["maml", k]["mean"])) < 1e-4
    assert sum("paired difference" in n for n in result["notes"]) == 2
