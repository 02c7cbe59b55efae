import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the checkout, not an installed package
    sys.path.insert(0, str(ROOT))

from episode_helper import source_classes  # noqa: E402

from benchmarks import readme, runner, schema  # noqa: E402
from benchmarks.__main__ import options_for  # noqa: E402

TINY_THROUGHPUT = dict(batch_sizes=(2,), kinds=("original",), seconds=0.05, repeats=2,
                       train_steps=2, warmup_steps=1)


def _results_snapshot():
    folders = (runner.RESULTS_DIR, runner.IMAGES_DIR)
    return {p: p.stat().st_mtime_ns for d in folders if d.exists() for p in d.iterdir()}


@pytest.fixture(scope="module")
def throughput(mnist_dir, tmp_path_factory):
    """One tiny quick run of the throughput benchmark, written to a temporary folder."""
    before = _results_snapshot()
    out = tmp_path_factory.mktemp("quick")
    path, result = runner.run_benchmark("throughput", quick=True, seed=0, output=out,
                                        options=TINY_THROUGHPUT | {"data_dir": mnist_dir})
    assert _results_snapshot() == before  # committed results and images untouched
    return path, result


def test_available_lists_benchmark_modules_only():
    names = runner.available()
    assert {"two_digit", "throughput"} <= set(names)
    assert not set(names) & runner.FRAMEWORK_MODULES


def test_unknown_benchmark_and_option_are_clear_errors():
    with pytest.raises(ValueError, match="Unknown benchmark 'nope'.*throughput"):
        runner.load("nope")
    with pytest.raises(ValueError, match="no option.*'bogus'"):
        runner.run_benchmark("throughput", quick=True, options={"bogus": 1})


def test_command_line_options_are_typed_and_routed():
    chosen = options_for(["two_digit", "throughput"],
                         ["kinds=original,weights", "two_digit.shots=1,5",
                          "minutes_per_cell=0.5", "throughput.batch_sizes=8"])
    assert chosen["two_digit"] == {"kinds": ("original", "weights"), "shots": (1, 5),
                                   "minutes_per_cell": 0.5}
    assert chosen["throughput"] == {"kinds": ("original", "weights"), "batch_sizes": (8,)}
    for bad in (["nonsense=1"], ["throughput.shots=many"], ["novalue"], ["other.kinds=x"]):
        with pytest.raises(SystemExit):
            options_for(["two_digit", "throughput"], bad)


def test_quick_run_may_not_write_over_full_results():
    with pytest.raises(ValueError, match="quick run may not write"):
        runner.run_benchmark("throughput", quick=True, output=runner.RESULTS_DIR)


def test_quick_throughput_writes_a_valid_record(throughput):
    path, result = throughput
    on_disk = json.loads(path.read_text())
    assert on_disk == result and schema.validate(on_disk)
    assert result["mode"] == "quick" and result["options"]["batch_sizes"] == [2]
    assert Path(result["plot"]).is_file()
    assert [r["method"] for r in result["rows"]] == ["generate/numpy", "generate/tf.data",
                                                      "train/original"]
    assert all(r["mean"] > 0 and r["settings"] == {"batch_size": 2} for r in result["rows"])
    trained = result["rows"][2]
    assert trained["episodes"] == 2 * 2 and trained["step_seconds"] > 0
    assert math.isclose(trained["generation_ratio_numpy"],
                        result["rows"][0]["mean"] / trained["mean"], rel_tol=1e-2)
    assert result["machine"]["device"].startswith(("CPU", "NVIDIA", "/"))
    assert len(result["load_average"]["start"]) == 3


def test_quick_two_digit_scores_on_stored_episodes(mnist_dir, tmp_path):
    options = dict(kinds=("original",), minutes_per_cell=0.001, steps_per_epoch=1,
                   batch_size=4, test_episodes=20, val_episodes=10, target=1.01,
                   data_dir=mnist_dir)
    episodes = tmp_path / "episodes"
    path, result = runner.run_benchmark("two_digit", quick=True, options=options,
                                        output=tmp_path, episode_dir=episodes)
    schema.validate(json.loads(path.read_text()))
    (cell,) = result["rows"]
    assert cell["method"] == "original" and cell["settings"] == {"protocol": "strict", "shots": 1}
    assert cell["episodes"] == 20 and 0.0 <= cell["mean"] <= 1.0
    # No accuracy reaches 1.01: a time to target here would be made up (the first-reached
    # rule itself is checked by test_time_to_target_counts_training_time_until_first_reached).
    assert cell["target"] == 1.01 and cell["epochs"] >= 1
    assert cell["time_to_target_epoch"] is None and cell["time_to_target_seconds"] is None
    assert "101% not reached" in runner.load("two_digit").summarize(result)
    stored = sorted(p.name for p in episodes.iterdir())
    assert stored == ["two_digit-strict-1shot-test-n20-seed0.h5",
                      "two_digit-strict-1shot-val-n10-seed0.h5"]
    assert any("Not run: protocols original, heldout-digits" in n for n in result["notes"])


def test_two_digit_ensemble_scores_the_mean_probability_of_its_members(mnist_dir, tmp_path):
    options = dict(kinds=("original",), minutes_per_cell=0.001, steps_per_epoch=1,
                   batch_size=4, test_episodes=20, val_episodes=10, data_dir=mnist_dir,
                   ensemble=2)
    path, result = runner.run_benchmark("two_digit", quick=True, options=options, seed=3,
                                        output=tmp_path, episode_dir=tmp_path / "episodes")
    schema.validate(json.loads(path.read_text()))
    ensemble, *members = result["rows"]
    assert [m["method"] for m in members] == ["original seed 3", "original seed 4"]
    assert ensemble["method"] == "original" and ensemble["member_seeds"] == [3, 4]
    assert ensemble["member_accuracy"] == [m["mean"] for m in members]
    assert ensemble["steps"] == sum(m["steps"] for m in members)
    assert ensemble["vs_members"]["pairs"] == 20
    # The paired difference is against the members' mean accuracy, episode by episode.
    assert math.isclose(ensemble["mean"] - np.mean(ensemble["member_accuracy"]),
                        ensemble["vs_members"]["difference"], abs_tol=1e-6)
    assert "| original, ensemble of 2 | original seed 3 |" in runner.load(
        "two_digit").summarize(result)
    from l2l.presets import TWO_DIGIT_KINDS
    from l2l.tasks.two_digit import PROTOCOLS

    grid = len(PROTOCOLS) * 2 * len(TWO_DIGIT_KINDS)  # protocols x shots 1, 5 x kinds
    assert grid == 24 and result["notes"][0].startswith(f"Ran 1 of the {grid} cells")
    with pytest.raises(ValueError, match="ensemble"):
        runner.load("two_digit").run(quick=True, ensemble=0)


def test_schema_names_every_problem(throughput):
    _, result = throughput
    bad = copy.deepcopy(result)
    del bad["commit"]
    bad["rows"][0]["mean"] = float("nan")
    bad["rows"][1]["episodes"] = True
    bad["rows"][2].pop("peak_rss_mb")
    with pytest.raises(schema.SchemaError) as error:
        schema.validate(bad)
    message = str(error.value)
    for part in ("missing field 'commit'", "rows[0].mean is nan", "rows[1].episodes must be int",
                 "rows[2]: missing field 'peak_rss_mb'"):
        assert part in message
    with pytest.raises(schema.SchemaError, match="rows is empty"):
        schema.validate(result | {"rows": []})


def test_results_page_and_readme_headline_are_generated(throughput, tmp_path):
    _, result = throughput
    results_dir = tmp_path / "results"
    runner.write_json(results_dir / "throughput.json", result | {"mode": "full"})
    page = tmp_path / "docs" / "results.md"
    readme.write_results_page(page, results_dir)
    text = page.read_text()
    assert text.startswith(readme.TITLE) and "## `throughput`" in text
    assert "train/original" in text and "(#throughput)" in text
    root = os.path.relpath(runner.ROOT, page.parent)
    assert f"![throughput]({root}/{result['plot']})" in text  # links work from docs/
    assert f"[JSON]({root}/benchmarks/results/throughput.json)" in text
    not_run = text.split("Not yet run in full:")[1].split("\n")[0]
    assert "`two_digit`" in not_run  # other unrun benchmarks may be listed too
    readme.write_results_page(page, results_dir)
    assert page.read_text() == text  # regenerating changes nothing

    plain = tmp_path / "README.md"
    plain.write_text("# Title\n\nno markers\n")
    assert not readme.update_readme(plain, results_dir, page)  # the results stay out of README
    assert plain.read_text() == "# Title\n\nno markers\n"
    marked = tmp_path / "MARKED.md"
    marked.write_text(f"# T\n\n{readme.HEADLINE_START}\nold\n{readme.HEADLINE_END}\n\nkept\n")
    assert readme.update_readme(marked, results_dir, page)
    text = marked.read_text()
    assert "old" not in text and text.endswith(f"{readme.HEADLINE_END}\n\nkept\n")
    assert "| task (held-out) |" in text  # throughput alone has no headline row, only the head

    runner.write_json(results_dir / "throughput.json", result)  # a quick run
    with pytest.raises(schema.SchemaError, match="quick run"):
        readme.write_results_page(page, results_dir)


def test_headline_of_the_stored_results_links_each_row_to_its_section():
    table = readme.headline(readme.load_results(runner.RESULTS_DIR))
    rows = [line for line in table.splitlines() if line.startswith("| ") and "](" in line]
    assert len(rows) >= 8  # two-digit, Omniglot x 4, sinusoid x 2, MAML speed
    assert all("[details](docs/results.md#" in r and "[JSON](benchmarks/results/" in r
               for r in rows)
    assert "1.13 (MAML)" in table and "98.8% (protonet)" in table
    # The sinusoid rows take the best learner from the flagship and MAML from the grid.
    sinusoid = [r for r in rows if r.startswith("| sinusoid regression")]
    assert len(sinusoid) == 2 and all(
        "sinusoid-flagship.json) · [sinusoid JSON](benchmarks/results/sinusoid.json)" in r
        and "6 training minutes" in r and "(maml, 1 training minute)" in r for r in sinusoid)


def test_headline_quotes_the_newest_maml_timing_beside_the_grids_simplemaml():
    results = readme.load_results(runner.RESULTS_DIR)
    grid = next(r for r in results if r["benchmark"] == "sinusoid" and not r.get("tag"))
    maml = {**next(r for r in grid["rows"] if r["method"] == "maml"),
            "seconds_per_update": 0.0123}
    retimed = {**grid, "tag": "retimed", "date": "2999-01-01T00:00:00+00:00", "rows": [maml]}
    table = readme.headline([*results, retimed])
    line = next(x for x in table.splitlines() if x.startswith("| MAML meta-update"))
    assert "**12.3 ms**" in line and "2999-01-01" in line
    simple = next(r for r in grid["rows"] if r["method"] == "simplemaml")
    assert f"{1000 * simple['seconds_per_update']:.0f} ms (`simplemaml`" in line
    assert "benchmarks/results/sinusoid-retimed.json" in line


def test_sinusoid_verdicts_are_one_table_column_not_a_sentence_per_row():
    result = next(r for r in readme.load_results(runner.RESULTS_DIR)
                  if r["benchmark"] == "sinusoid")
    section = readme.render_one(result)
    assert "vs published 5/10-shot (MAML: 1.13 / 0.77)" in section
    assert "| pooled |" in section and "MAML: beats / beats" in section
    assert "published 1.13;" not in section  # the old per-method sentences are gone

def test_cli_lists_benchmarks_and_rejects_unknown_names():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    listed = subprocess.run([sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "two_digit:" in listed.stdout and "-o batch_sizes=" in listed.stdout
    wrong = subprocess.run([sys.executable, "-m", "benchmarks", "run", "nope", "--quick"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "Unknown benchmark 'nope'" in wrong.stderr  # l2l.cli
    assert "Traceback" not in wrong.stderr


@pytest.mark.parametrize("lower, values, epoch", [(False, [0.5, 0.9, 0.95], 2),
                                                  (True, [3.0, 1.0, 0.4], 3),
                                                  (False, [0.5, 0.6], None)])
def test_time_to_target_counts_training_time_until_first_reached(lower, values, epoch):
    from benchmarks.common import time_to_target_callback

    class Clock:
        elapsed = 0.0

    clock = Clock()
    callback = time_to_target_callback(0.5 if lower else 0.9, "val_metric", clock,
                                       lower_is_better=lower)
    for i, value in enumerate(values):
        clock.elapsed = 10.0 * (i + 1)
        callback.on_epoch_end(i, {"val_metric": value})
    assert callback.epoch == epoch
    assert callback.seconds == (None if epoch is None else 10.0 * epoch)


def test_peak_rss_is_measured_per_block():
    import numpy as np

    from benchmarks.common import PeakRSS, row
    from l2l.training.measure import status_mb

    with PeakRSS() as big:
        block = np.ones(40 * 2**20 // 8)  # 40 MiB, touched
        during = status_mb("VmRSS:")  # resident now, with the block
        del block
    with PeakRSS() as small:
        pass
    assert big.scope == small.scope == "row"  # Linux: the high-water mark reset per block
    assert big.mb - big.start_mb >= 35 and big.mb >= during - 1  # (counters lag ~0.1 MiB)
    assert small.mb < big.mb - 30
    record = row("m", "accuracy", 0.5, settings={}, seed=0, memory=small)
    assert record["peak_rss_mb"] == small.mb and record["peak_rss_scope"] == small.scope


def test_peak_rss_without_a_resettable_mark_is_the_process_peak(monkeypatch):
    """Where /proc/self/clear_refs cannot be written, `mb` is the process's lifetime peak:
    never below what the block itself held."""
    import builtins

    import numpy as np

    from benchmarks.common import PeakRSS
    from l2l.training.measure import status_mb

    real_open = builtins.open

    def refuse_clear_refs(path, *args, **kwargs):
        if str(path) == "/proc/self/clear_refs":
            raise PermissionError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse_clear_refs)
    with PeakRSS() as process:
        block = np.ones(40 * 2**20 // 8)
        during = status_mb("VmRSS:")
        del block
    assert process.scope == "process" and process.mb >= during - 1 >= process.start_mb + 34


def test_omniglot_load_time_quick_rows(omniglot_dir, tmp_path):
    before = _results_snapshot()
    _, result = runner.run_benchmark("omniglot_load_time", quick=True, output=tmp_path,
                                     options={"data_dir": omniglot_dir})
    assert _results_snapshot() == before
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"cold", "warm"} and result["mode"] == "quick"
    assert result["settings"]["sets"] == ["images_background_small1"]
    assert result["settings"]["repeats"] == 1 and rows["cold"]["ci95"] is None
    assert rows["cold"]["metric"] == "seconds" and rows["cold"]["images"] > 0
    assert 0 < rows["warm"]["mean"] < rows["cold"]["mean"]  # the cache is what makes it fast


def _quick(name, tmp_path, **options):
    """A tiny quick run of benchmark `name` into `tmp_path`, validated from disk."""
    episodes = tmp_path / "episodes"
    path, result = runner.run_benchmark(name, quick=True, options=options, output=tmp_path,
                                        episode_dir=episodes)
    assert json.loads(path.read_text()) == result and schema.validate(result)
    assert result["mode"] == "quick" and Path(result["plot"]).is_file()
    return result, sorted(p.name for p in episodes.iterdir())


def test_quick_sinusoid_scores_each_shot_count_on_stored_episodes(tmp_path):
    result, stored = _quick("sinusoid", tmp_path, methods=("pooled",), shots=(5, 10),
                            minutes_per_method=0.001, steps_per_epoch=1, batch_size=4,
                            test_episodes=20, width=8, depth=1, curve_shots=12)
    rows = result["rows"]
    assert [(r["method"], r["settings"]["shots"]) for r in rows] == [("pooled", 5),
                                                                     ("pooled", 10)]
    assert all(r["metric"] == "mse" and r["episodes"] == 20 and r["mean"] > 0 for r in rows)
    assert all(r["seconds_per_update"] > 0 and r["maml_mse"] in (1.13, 0.77) for r in rows)
    assert result["settings"]["train_shots"] == [1, 12]  # training covers the curve
    assert stored == ["sinusoid-10shot-q50-test-n20-seed0.h5",
                      "sinusoid-12shot-q50-test-n20-seed0.h5",
                      "sinusoid-5shot-q50-test-n20-seed0.h5"]
    curve = rows[-1]["curve"]  # on the row of the largest shot count: k = 1..curve_shots
    assert "curve" not in rows[0] and curve["k"] == list(range(1, 13))
    assert all(m > 0 for m in curve["mean"]) and len(curve["ci95"]) == 12
    from benchmarks.sinusoid import published_verdict, summarize

    verdicts = " / ".join(published_verdict(r, r["maml_mse"]) for r in rows)
    assert f"| MAML: {verdicts} |" in summarize(result)  # one column, not a note per row
    with pytest.raises(ValueError, match="Unknown method.*choose from"):
        runner.run_benchmark("sinusoid", quick=True, options={"methods": ("mamll",)},
                             output=tmp_path)


def test_quick_few_shot_trains_on_digits_0_4_and_tests_on_5_9(mnist_dir, tmp_path):
    result, stored = _quick("few_shot", tmp_path, datasets=("mnist",), methods=("protonet",),
                            minutes_per_cell=0.001, steps_per_epoch=1, batch_size=2,
                            test_episodes=20, width=8, data_dir=mnist_dir)
    (cell,) = result["rows"]
    assert cell["method"] == "protonet" and cell["metric"] == "accuracy"
    assert cell["settings"] == {"dataset": "mnist", "ways": 5, "shots": 1}
    assert cell["episodes"] == 20 and 0.0 <= cell["mean"] <= 1.0 and cell["chance"] == 0.2
    data = result["settings"]["data"]["mnist"]
    assert data["train_digits"] == [0, 1, 2, 3, 4] and data["test_digits"] == [5, 6, 7, 8, 9]
    assert stored == ["few_shot-mnist-5way-1shot-test-n20-seed0.h5"]
    # The classes in the stored episodes themselves: every image is a 5-9, each episode's five
    # labels are five different digits, and a label means one digit within an episode.
    from l2l.datasets import load_mnist

    images, labels = load_mnist(mnist_dir)
    digits = source_classes(tmp_path / "episodes" / stored[0], images, labels)
    support, query = digits["support"], digits["query"]
    assert set(np.unique(support)) | set(np.unique(query)) == {5, 6, 7, 8, 9}
    for e in range(len(support)):
        meaning = dict(zip(digits["support_y"][e], support[e], strict=True))
        assert len(set(meaning.values())) == len(meaning) == 5
        assert all(meaning[y] == d for y, d in zip(digits["query_y"][e], query[e], strict=True))



def test_few_shot_omniglot_splits_are_alphabet_disjoint(omniglot_dir):
    from benchmarks.few_shot import load

    data = load("omniglot", str(Path(omniglot_dir).parent))
    assert not set(data["train"] // 4) & set(data["test"])  # rotated class c*4+r is character c
    train_alphabets = set(data["train_alphabets"][np.isin(data["train_labels"], data["train"])])
    test_alphabets = set(data["alphabets"][np.isin(data["labels"], data["test"])])
    assert len(train_alphabets) == data["info"]["train_alphabets"] >= 5
    assert len(test_alphabets) == data["info"]["test_alphabets"] >= 2
    assert not train_alphabets & test_alphabets
    assert len(data["train"]) == 4 * data["info"]["train_characters"]
    assert data["info"]["test_characters"] == len(data["test"]) >= 20
    with pytest.raises(ValueError, match="Unknown dataset"):
        load("cifar")


def test_quick_quadratic_scores_every_k_and_the_online_curve(tmp_path):
    result, stored = _quick("quadratic", tmp_path, methods=("sequence",), max_shots=6,
                            minutes_per_method=0.001, steps_per_epoch=1, batch_size=4,
                            test_episodes=20, width=8, depth=1)
    curves = {}
    for r in result["rows"]:
        curves.setdefault(r["method"], []).append(r["settings"]["k"])
    assert curves == {"least-squares": [1, 2, 3, 4, 5, 6], "sequence": [1, 2, 3, 4, 5, 6],
                      "sequence/online": [1, 2, 3, 4, 5]}
    exact = next(r for r in result["rows"] if r["method"] == "least-squares"
                 and r["settings"]["k"] == 6)
    assert exact["mean"] < 1e-8  # six noise-free examples determine a 2-input quadratic
    assert stored == ["quadratic-d2-6shot-q20-test-n20-seed0.h5"]


def test_results_page_is_up_to_date_with_the_stored_results():
    page = readme.RESULTS_PAGE
    expected = readme.render(readme.load_results(runner.RESULTS_DIR), "..")
    assert page.read_text() == expected, (
        f"{page} is stale: run `python -m benchmarks readme` after changing "
        "benchmarks/results/ or a benchmark's summarize().")


def test_every_stored_result_has_its_picture_beside_it():
    """A result's `plot` names its picture; in a clean clone it is there only if committed."""
    missing = [(path.name, result["plot"]) for path in sorted(runner.RESULTS_DIR.glob("*.json"))
               for result in [json.loads(path.read_text())]
               if result.get("plot") and not (ROOT / result["plot"]).is_file()]
    assert not missing, f"pictures named by stored results but not in the repository: {missing}"


def test_onednn_crash_counts_crashed_processes_per_configuration(tmp_path):
    from benchmarks.onednn_crash import CONFIGS, clopper_pearson

    assert [round(v, 4) for v in clopper_pearson(5, 60)] == [0.0276, 0.1839]
    assert [round(v, 4) for v in clopper_pearson(1, 2)] == [0.0126, 0.9874]
    assert clopper_pearson(3, 3)[1] == 1.0 and clopper_pearson(0, 3)[0] == 0.0
    _, result = runner.run_benchmark("onednn_crash", quick=True, output=tmp_path,
                                     options={"processes": 1})
    assert [r["method"] for r in result["rows"]] == [c[0] for c in CONFIGS]
    for r in result["rows"]:
        assert r["processes"] == 1 and r["crashed"] in (0, 1)
        assert r["mean"] == r["crashed"] and r["rate_ci95"] == list(clopper_pearson(
            r["crashed"], 1))
        # each process ran to the end or died of a signal (SIGABRT, SIGSEGV: the bug
        # measured); a Python error (exit code 1) would be a broken script, not a crash
        assert set(r["exit_codes"]) <= {0, -6, -11}
    # The notes add what the table lacks: the old path against each other configuration.
    assert len(result["notes"]) == len(CONFIGS) - 1
    assert all(n.startswith("einsum, oneDNN on (") and "Fisher exact p = " in n
               for n in result["notes"])
