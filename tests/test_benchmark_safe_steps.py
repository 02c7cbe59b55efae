"""The safe_steps benchmark's quick mode: own loop, 10 steps, and 10 safe steps per method."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402


def test_quick_run_scores_three_loops(tmp_path):
    _, result = runner.run_benchmark(
        "safe_steps", quick=True, output=tmp_path, episode_dir=tmp_path / "episodes",
        options=dict(methods=("meta_sgd",), shots=(5,), minutes_per_method=0.001,
                     test_episodes=5, test_steps=3))
    assert schema.validate(result)
    loops = [(r["settings"]["test_steps"], r["settings"]["safe_steps"]) for r in result["rows"]]
    assert loops == [(1, False), (3, False), (3, True)]
    assert all(r["episodes"] + r["diverged_episodes"] == 5 for r in result["rows"])
