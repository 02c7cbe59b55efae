"""Tags (a second full run beside the default one) and redrawing pictures from stored results."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import readme, runner, schema  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402

TINY = dict(batch_sizes=(2,), kinds=("original",), seconds=0.05, repeats=2, train_steps=2,
            warmup_steps=1)


@pytest.fixture(scope="module")
def tagged(mnist_dir, tmp_path_factory):
    """One tiny quick throughput run with a tag, written to a temporary folder."""
    return runner.run_benchmark("throughput", quick=True, tag="small",
                                output=tmp_path_factory.mktemp("tagged"),
                                options=TINY | {"data_dir": mnist_dir})


def test_tag_names_the_files_and_the_record(tagged):
    path, result = tagged
    assert path.name == "throughput-small.json" and result["tag"] == "small"
    assert Path(result["plot"]).name == "benchmark_throughput-small.png"
    schema.validate(result)
    # Results page: the tagged record gets its own heading and links to its own file.
    section = readme.render_one(result | {"mode": "full"})
    assert "## `throughput` · small" in section and 'id="throughput-small"' in section
    assert "[JSON](../benchmarks/results/throughput-small.json)" in section


@pytest.mark.parametrize("tag", ["", "Upper", "a/b", "../x", "x" * 41])
def test_bad_tags_fail_before_anything_runs(tag, tmp_path, capsys):
    with pytest.raises(ValueError, match="Tag .* must be"):
        runner.result_stem("throughput", tag)
    with pytest.raises(ValueError, match="Tag .* must be"):
        main(["run", "throughput", "--quick", "--output", str(tmp_path), "--tag", tag])
    assert not list(tmp_path.iterdir())


def test_schema_refuses_an_empty_tag():
    with pytest.raises(schema.SchemaError, match="tag must be a non-empty string"):
        schema.validate({"tag": ""})


def test_redraw_remakes_a_picture_from_the_stored_result_alone(tagged, tmp_path):
    path, result = tagged
    stored = tmp_path / "stored"
    stored.mkdir()
    (stored / path.name).write_text(json.dumps(result | {"mode": "full"}))  # as if a full run
    picture = Path(result["plot"])
    picture.unlink()
    assert runner.redraw(stored, ["two_digit"]) == []  # only the benchmarks named
    assert runner.redraw(stored) == [picture] and picture.stat().st_size > 0
