"""Every code block of README.md and docs/*.md runs, in order, with tiny settings.

The rule (one place, so a reader can check that nothing is hidden):

- ```python blocks of a file run in order in one fresh namespace (a later block may use an
  earlier block's names), in a temporary working folder, after the file's `PRELUDE` if it has
  one (the names its prose assumes, such as `task` and `model`). `SHRINK` rewrites training
  lengths and evaluation sizes to tiny ones (`steps_per_epoch=2`, `epochs=1`, 16 episodes) and
  turns XLA off (compilation time); nothing else of a block changes.
- ```bash blocks: comments and blank lines dropped, `&&` splits commands, each runs in a
  copy of the checkout (so `readme` and `plot` rewrite the copy, never this checkout):
  - `pip install ...[extras]` is not run (no network in tests): each named extra must exist
    in pyproject.toml;
  - `python -m pytest` is not run: it is this suite;
  - `python examples/NAME.py ARGS` runs with `--quick` removed and `EXAMPLE_TINY[NAME]`
    appended (argparse: the last value wins); the quick runs themselves are tested by
    tests/test_example.py and tests/test_custom_learner_example.py;
  - `python -m benchmarks run ...` runs with `--dry-run` (names, tag and options are checked;
    the quick mode of every benchmark is run by tests/test_benchmarks.py and friends);
  - every other command runs as written; all must exit 0.
- Modules a file's commands import as the reader's own (`--import my_kinds`) are written into
  the copy first: `MODULES`.
- Skipped files, with the test that runs them instead: `SKIP_FILES`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_FILES = {
    # Needs several processes with TF_CONFIG (multi-worker): run by tests/test_scaling_docs.py
    # tests of docs/scaling.md.
    "docs/scaling.md": "run under TF_CONFIG workers by the scale-out tests",
}
SHRINK = [
    (r"steps_per_epoch=\d+", "steps_per_epoch=2"),
    (r"\bepochs=\d+", "epochs=1"),
    (r"fixed_episodes\(\d+", "fixed_episodes(16"),
    (r"jit_compile=True", "jit_compile=False"),
]
EXAMPLE_TINY = {
    "mnist_two_digit": ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
                        "--test-episodes", "16", "--verbose", "0"],
    "custom_learner": ["--steps", "2", "--test-episodes", "16"],
}
PRELUDE = {
    # extending.md's "Testing it" checks a `model` on a `task` of its reader's: here image
    # support sets (the case its padding check must handle), classes held out, ragged shots.
    "docs/extending.md": """
import numpy as _np
from l2l.presets import classification_model as _classification_model
from l2l.tasks import FewShotClassification as _FewShotClassification
_x = _np.random.default_rng(0).integers(0, 255, (60, 8, 8, 1)).astype("uint8")
task = _FewShotClassification(_x, _np.repeat(_np.arange(12), 5), ways=3, shots=(1, 3),
                              queries=2)
model = _classification_model("protonet", ways=3, width=8, jit_compile=False)
""",
}
MODULES = {
    # extending.md's command imports `my_kinds`, the reader's module that registers the kind
    # shown above it; this stand-in registers the same name with a built-in pairing.
    "docs/extending.md": {"my_kinds.py": """
from l2l.learners import PooledLearner
from l2l.predictors import ConditionedPredictor
from l2l.presets import register_kind


def build(s):
    ways = {"ways": s.ways} if s.ways else {}
    return (PooledLearner(code_dim=s.width, units=s.hidden, **ways),
            ConditionedPredictor(units=s.hidden, output_units=s.outputs, interaction=False))


register_kind("mean_pair", classification=build, regression=build)
"""},
}


def doc_files() -> list[str]:
    return ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))


def code_blocks(text: str) -> list[tuple[str, str, int]]:
    """`(language, code, line)` of every fenced block, in order."""
    return [(m.group(1), m.group(2), text[:m.start()].count("\n") + 1)
            for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.M | re.S)]


def shrink(code: str) -> str:
    for pattern, replacement in SHRINK:
        code = re.sub(pattern, replacement, code)
    return code


def bash_commands(code: str) -> list[list[str]]:
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
        commands += [shlex.split(part) for part in line.split("&&") if part.strip()]
    return commands


def run_command(argv: list[str], checkout: Path, env: dict) -> None:
    """Run one documented command by the rule in the module docstring."""
    if argv[:2] == ["pip", "install"]:
        section = (ROOT / "pyproject.toml").read_text().split(
            "[project.optional-dependencies]")[1].split("\n[")[0]
        extras = re.findall(r"^([\w-]+)\s*=", section, re.M)
        for target in argv[2:]:
            for extra in re.findall(r"\[([\w,-]+)\]", target):
                assert set(extra.split(",")) <= set(extras), (argv, sorted(extras))
        return
    if argv[:3] == ["python", "-m", "pytest"]:
        return
    assert argv[0] == "python", f"no rule for documented command {argv}"
    argv = [sys.executable, *argv[1:]]
    example = re.fullmatch(r"examples/(\w+)\.py", argv[1])
    if example:
        argv = [a for a in argv if a != "--quick"] + EXAMPLE_TINY[example.group(1)]
    elif argv[2:4] == ["benchmarks", "run"]:
        argv.append("--dry-run")
    done = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-3000:])


@pytest.mark.parametrize("name", [n for n in doc_files() if n not in SKIP_FILES])
def test_every_code_block_runs(name, mnist_dir, tmp_path, monkeypatch):
    blocks = code_blocks((ROOT / name).read_text())
    assert blocks or name != "README.md"
    unknown = [(lang, line) for lang, _, line in blocks if lang not in ("python", "bash")]
    assert not unknown, f"{name}: no rule for code blocks {unknown} (add one here)"
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(  # not CI's .venv-ci (GBs)
        ".git", ".venv*", "runs", "episodes", "__pycache__", "*.keras", "*.egg-info"))
    env = dict(os.environ, PYTHONPATH=str(checkout), L2L_DATA_DIR=mnist_dir,
               TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg",
               L2L_EPISODE_DIR=str(tmp_path / "episodes"))
    for module, text in MODULES.get(name, {}).items():
        (checkout / module).write_text(text)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("L2L_DATA_DIR", mnist_dir)
    namespace = {"__name__": f"docs_{Path(name).stem}"}
    if name in PRELUDE:
        exec(compile(PRELUDE[name], f"{name}:prelude", "exec"), namespace)
    for language, code, line in blocks:
        if language == "python":
            exec(compile(shrink(code), f"{name}:{line}", "exec"), namespace)
        else:
            for argv in bash_commands(code):
                run_command(argv, checkout, env)


def test_skipped_files_exist_and_the_extractor_sees_blocks():
    for name in SKIP_FILES:
        assert (ROOT / name).is_file(), f"{name} no longer exists: drop it from SKIP_FILES"
    blocks = code_blocks("text\n```python\nx = 1\n```\n```bash\npython a.py --quick && b\n```\n")
    assert [(lang, line) for lang, _, line in blocks] == [("python", 2), ("bash", 5)]
    assert bash_commands("# c\npython a.py --x 1  # note\npip install -e . && python b\n") == [
        ["python", "a.py", "--x", "1"], ["pip", "install", "-e", "."], ["python", "b"]]
    assert shrink("fit(d, steps_per_epoch=100, epochs=30)") == "fit(d, steps_per_epoch=2, epochs=1)"
