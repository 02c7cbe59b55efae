"""The second-order benchmark's quick mode: every part produces its rows and picture."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402

TINY = dict(seeds=1, fit_points=16, newton_steps=2, maml_minutes=0.001, inner_episodes=3,
            inner_steps=2, fit_block_sizes=(16,), inner_block_sizes=(8,),
            cost_block_sizes=())  # the cost part is plain timing of the same Newton step


def test_quick_run_compares_newton_with_sgd_and_adam(tmp_path):
    _, result = runner.run_benchmark("second_order", quick=True, output=tmp_path,
                                     episode_dir=tmp_path / "episodes", options=TINY)
    assert schema.validate(result) and Path(result["plot"]).is_file()
    parts = {}
    for r in result["rows"]:
        parts.setdefault(r["settings"]["part"], []).append(r["method"])
    assert parts["fit"] == ["sgd 0.1", "adam 0.01", "newton b=16"]
    assert parts["inner"] == ["sgd 0.01 (MAML's)", "sgd 0.1", "adam 0.01", "newton b=8"]
    assert "cost" not in parts
    inner = {r["method"]: r for r in result["rows"] if r["settings"]["part"] == "inner"}
    # SGD at MAML's rate defines the target, so it reaches it in exactly its step count
    assert inner["sgd 0.01 (MAML's)"]["mean"] == 2 and inner["sgd 0.01 (MAML's)"]["reached"] == 3
    assert all(len(r["support_curve"]) == 3 for r in inner.values())
    assert any("newton b=8 needs" in n for n in result["notes"])
