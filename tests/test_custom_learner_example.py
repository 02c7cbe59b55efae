"""examples/custom_learner.py runs in quick mode: it learns, saves, and loads back the same."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_learner.py"


def test_quick_run_learns_held_out_tasks_and_round_trips(tmp_path):
    spec = importlib.util.spec_from_file_location("custom_learner", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.run(example.parse_args(["--quick", "--output-dir", str(tmp_path)]))
    assert results["mse"] + results["ci95"] < 0.3 * results["zero_mse"], results
    assert results["reload_gap"] < 1e-5
    assert Path(results["path"]).exists()
