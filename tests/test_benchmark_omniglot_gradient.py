"""The `omniglot_gradient` benchmark (gradient meta-learners on Omniglot, on the `omniglot`
benchmark's stored episodes) and the device check's tiny CPU mode."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402


def test_quick_omniglot_gradient_scores_on_the_omniglot_benchmarks_episodes(omniglot_dir,
                                                                            tmp_path):
    episodes = tmp_path / "episodes"
    path, result = runner.run_benchmark(
        "omniglot_gradient", quick=True, output=tmp_path, episode_dir=episodes,
        options={"test_episodes": 10, "speed": False, "methods": ("anil", "protonet"),
                 "data_dir": str(Path(omniglot_dir).parent)})
    assert json.loads(path.read_text()) == result and schema.validate(result)
    assert [r["method"] for r in result["rows"]] == ["anil", "protonet"]
    assert all(r["episodes"] == 10 and 0.0 <= r["mean"] <= 1.0 for r in result["rows"])
    assert sorted(p.name for p in episodes.iterdir()) == [
        "few_shot-omniglot-5way-1shot-test-n10-seed0.h5"]
    assert Path(result["plot"]).is_file()


def test_device_check_runs_in_its_tiny_cpu_mode(tmp_path):
    env = {**os.environ, "DEVICE_CHECK_TINY": "1"}
    done = subprocess.run([str(ROOT / "benchmarks" / "device_check.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gradient_speed.json").read_text())
    schema.validate(result)
    cells = {(r["method"], r["settings"]["engine"], r["settings"]["xla"],
              r["settings"]["precision"]) for r in result["rows"]}
    for xla in (False, True):  # tiny mode: float32 only (mixed precision is the GPU run's)
        assert {("plain", "plain", xla, "float32"), ("maml", "batched", xla, "float32")} <= cells
    assert all(r["mean"] > 0 for r in result["rows"])
    assert "speedup" in done.stdout
