"""The `omniglot` benchmark: the few-shot grid on Omniglot, 5- and 20-way, same stored episodes."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from episode_helper import source_classes  # noqa: E402

from benchmarks import few_shot, runner, schema  # noqa: E402


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
    # Beats chance by a clear margin on classes of alphabets never trained on (measured:
    # 42% ± 5% at 5 ways, 16.5% ± 2% at 20 ways after this second of training).
    assert all(r["episodes"] == 10
               and r["mean"] - r["ci95"] > min(2 * r["chance"], r["chance"] + 0.1)
               for r in result["rows"]), [(r["mean"], r["ci95"]) for r in result["rows"]]
    assert result["settings"]["datasets"] == ["omniglot"]
    # The same stored sets as few_shot's Omniglot cells: one evaluation set per (ways, shots).
    assert sorted(p.name for p in episodes.iterdir()) == [
        "few_shot-omniglot-20way-1shot-test-n10-seed0.h5",
        "few_shot-omniglot-5way-1shot-test-n10-seed0.h5"]
    assert Path(result["plot"]).is_file()
    # What the stored episodes hold, image by image: test characters only, none of whose
    # alphabets any training character belongs to.
    data = few_shot.load("omniglot", str(Path(omniglot_dir).parent))
    train_alphabets = set(data["train_alphabets"][np.isin(data["train_labels"], data["train"])])
    for ways in (5, 20):
        found = source_classes(episodes / f"few_shot-omniglot-{ways}way-1shot-test-n10-seed0.h5",
                               data["x"], data["labels"])
        characters = np.unique(np.concatenate([found["support"], found["query"]], axis=None))
        assert np.isin(characters, data["test"]).all() and len(characters) >= ways
        alphabet_of = dict(zip(data["labels"], data["alphabets"], strict=True))
        assert not {alphabet_of[c] for c in characters} & train_alphabets
        assert all(len(set(episode)) == ways for episode in found["support"])


def test_omniglot_takes_every_few_shot_option_but_datasets():
    import pytest

    from benchmarks import omniglot

    assert set(runner.option_defaults(omniglot)) == set(runner.option_defaults(few_shot)) - {
        "datasets"}
    assert runner.option_defaults(omniglot)["ways"] is None  # None: the 5/20-way grid
    with pytest.raises(TypeError, match="unknown options \\['datasets'\\]"):
        omniglot.run(quick=True, datasets=("mnist",))
