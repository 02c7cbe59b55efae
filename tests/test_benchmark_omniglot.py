"""The `omniglot` benchmark: the few-shot grid on Omniglot, 5- and 20-way, same stored episodes."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402


def test_quick_omniglot_runs_5_and_20_way_on_unseen_alphabets(omniglot_dir, tmp_path):
    episodes = tmp_path / "episodes"
    path, result = runner.run_benchmark(
        "omniglot", quick=True, output=tmp_path, episode_dir=episodes,
        options={"ways": (5, 20), "minutes_per_cell": 0.001, "test_episodes": 10,
                 "data_dir": str(Path(omniglot_dir).parent)})
    assert json.loads(path.read_text()) == result and schema.validate(result)
    cells = [(r["method"], r["settings"]) for r in result["rows"]]
    assert cells == [("protonet", {"dataset": "omniglot", "ways": 5, "shots": 1}),
                     ("protonet", {"dataset": "omniglot", "ways": 20, "shots": 1})]
    assert [r["chance"] for r in result["rows"]] == [0.2, 0.05]
    assert all(r["episodes"] == 10 and 0.0 <= r["mean"] <= 1.0 for r in result["rows"])
    assert result["settings"]["datasets"] == ["omniglot"]
    # The same stored sets as few_shot's Omniglot cells: one evaluation set per (ways, shots).
    assert sorted(p.name for p in episodes.iterdir()) == [
        "few_shot-omniglot-20way-1shot-test-n10-seed0.h5",
        "few_shot-omniglot-5way-1shot-test-n10-seed0.h5"]
    assert Path(result["plot"]).is_file()
