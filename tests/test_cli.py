"""Command lines print an l2l error as a line (exit status 2), and a traceback with --debug.

Every case fails before any training (missing data, a bad count), so these stay cheap.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l2l import cli
from l2l.errors import InvalidValueError, invalid_value

ROOT = Path(__file__).resolve().parents[1]


def example(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_reports_missing_data_in_a_line_and_exits_with_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("L2L_DEBUG", None)
    command = [sys.executable, str(ROOT / "examples" / "mnist_two_digit.py"),
               "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")]
    plain = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2, plain.stderr
    assert "Traceback" not in plain.stderr
    assert "mnist_two_digit.py: error: Could not find the MNIST" in plain.stderr
    assert "--debug" in plain.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_debug_shows_the_traceback(tmp_path):
    custom = example("custom_learner")
    argv = ["--test-episodes", "0", "--output-dir", str(tmp_path)]
    with pytest.raises(InvalidValueError, match="`num_episodes`: expected an integer >= 1"):
        cli.run(custom.main, argv + ["--debug"])
    assert not os.listdir(tmp_path)


def test_the_custom_learner_example_and_benchmarks_exit_with_2(tmp_path, capsys):
    from benchmarks.__main__ import main as benchmarks_main

    custom = example("custom_learner")
    for main, argv, prog, problem in [
        (custom.main, ["--test-episodes", "0", "--output-dir", str(tmp_path)], "custom_learner",
         "`num_episodes`: expected an integer >= 1"),
        (benchmarks_main, ["run", "no_such_benchmark", "--quick"], "python -m benchmarks",
         "Unknown benchmark 'no_such_benchmark'"),
    ]:
        with pytest.raises(SystemExit) as exited:
            cli.run(main, argv, prog=prog)
        assert exited.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith(f"{prog}: error: ") and problem in lines[0]
        assert "--debug" in lines[1]
    assert not os.listdir(tmp_path)


def test_other_errors_are_bugs_and_keep_their_traceback():
    def main(argv):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        cli.run(main, [])
    with pytest.raises(SystemExit) as exited:
        cli.run(lambda argv: None, [])
    assert exited.value.code == 0
    with pytest.raises(SystemExit) as exited:
        cli.run(lambda argv: (_ for _ in ()).throw(invalid_value("x", 1, "2")), [], prog="p")
    assert exited.value.code == cli.EXIT_USER_ERROR == 2
