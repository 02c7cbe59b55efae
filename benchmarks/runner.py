"""Finding benchmarks, running one, and writing its validated JSON and picture.

`run_benchmark("throughput", quick=False)` imports `benchmarks/throughput.py`, calls its
`run(quick, seed, **options)`, adds the fields every result file has (commit, machine, date,
command, mode, load average at start and end; see `benchmarks.schema`), validates the record,
draws the module's `plot` if it has one, and writes both atomically:

    full runs:   benchmarks/results/<name>.json   images/benchmark_<name>.png
    quick runs:  <output>/<name>.json             <output>/benchmark_<name>.png
                 (default output: runs/benchmarks-quick/; never benchmarks/results/ or images/)

A `tag` keeps a second full run of the same benchmark with other options beside the default
one: `run_benchmark("two_digit", tag="flagship", options=...)` writes
`two_digit-flagship.json` and `benchmark_two_digit-flagship.png`, and the record says
`"tag": "flagship"`.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import inspect
import os
import pkgutil
import platform
import re
import subprocess
import time
import types
import typing
from pathlib import Path
from types import ModuleType

from benchmarks import schema
from benchmarks.common import cell_progress, episode_store, tensorboard_logs
from l2l.errors import InvalidValueError
from l2l.training import atomic
from l2l.training.distribute import make_strategy, output_dir

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
IMAGES_DIR = ROOT / "images"
QUICK_DIR = ROOT / "runs" / "benchmarks-quick"
FRAMEWORK_MODULES = {"common", "published", "readme", "runner", "schema"}
TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")


def available() -> list[str]:
    """Names of the benchmark modules in `benchmarks/`, sorted."""
    import benchmarks

    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                  if not m.name.startswith("_") and m.name not in FRAMEWORK_MODULES)


def load(name: str) -> ModuleType:
    """The benchmark module `name`, checked to follow the contract in `benchmarks/__init__`."""
    names = available()
    if name not in names:
        raise InvalidValueError(f"Unknown benchmark {name!r}; available: {', '.join(names)} "
                                "(python -m benchmarks list).")
    module = importlib.import_module(f"benchmarks.{name}")
    if not callable(getattr(module, "run", None)) or not (module.__doc__ or "").strip():
        raise TypeError(f"benchmarks/{name}.py must have a docstring and a function "
                        "run(quick: bool, seed: int, **options) -> dict.")
    return module


def describe(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().splitlines()[0]


def option_defaults(module: ModuleType) -> dict:
    """The options a benchmark accepts: `run`'s keyword parameters after `quick` and `seed`."""
    return {n: p.default for n, p in _options(module).items()}


def option_types(module: ModuleType) -> dict:
    """Each option's annotation (a type such as `tuple[int, ...] | None`), or its default's type."""
    return {n: p.annotation if p.annotation is not p.empty else type(p.default)
            for n, p in _options(module).items()}


def _options(module: ModuleType) -> dict[str, inspect.Parameter]:
    params = inspect.signature(module.run, eval_str=True).parameters
    return {n: p for n, p in params.items()
            if n not in ("quick", "seed") and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def parse_option(kind, text: str):
    """A command-line option value converted to the type `kind` (an annotation).

    Tuples and lists are comma-separated; in a union the first type that accepts `text` wins,
    and `none` gives None where None is allowed.

    >>> parse_option(tuple[int, ...] | None, "1,5,10"), parse_option(float, "0.5")
    ((1, 5, 10), 0.5)
    >>> parse_option(str | None, "none"), parse_option(bool, "true")
    (None, True)
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if text.lower() == "none" and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return parse_option(option, text)
            except ValueError:
                pass
        raise ValueError(f"{text!r} is not a {kind}")
    if origin in (tuple, list) or kind in (tuple, list):
        item = args[0] if args else str
        return tuple(parse_option(item, part) for part in text.split(",") if part)
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if kind in (int, float, str):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a {kind.__name__}") from None
    return text


def run_benchmark(name: str, quick: bool = False, seed: int = 0, options: dict | None = None,
                  output: str | os.PathLike | None = None, command: str | None = None,
                  episode_dir: str | os.PathLike | None = None,
                  regenerate_episodes: bool = False, tag: str | None = None,
                  strategy: str = "auto", progress: bool = False,
                  tensorboard: str | os.PathLike | None = None) -> tuple[Path, dict]:
    """Run benchmark `name` and write its result; returns `(json path, result)`.

    Its models are built and trained in the scope of
    `l2l.training.distribute.make_strategy(strategy)` (`"auto"`: multi-worker under
    `TF_CONFIG`, all GPUs when there are several, else one device); under a multi-worker
    strategy only the chief keeps the JSON and the picture. `progress` shows the cells run on
    stderr (`benchmarks.common.cell_progress`); `tensorboard` is a folder for TensorBoard
    logs, one subfolder per cell trained (`benchmarks.common.tensorboard_logs`).
    """
    module = load(name)
    stem = result_stem(name, tag)
    options = dict(options or {})
    accepted = option_defaults(module)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidValueError(f"Benchmark {name!r} has no option(s) {unknown}; it accepts "
                                f"{sorted(accepted)}.")
    results_dir, images_dir = _output_dirs(quick, output)
    code = _commit()  # the code that runs, before anything can change
    start_load, start, date = os.getloadavg(), time.perf_counter(), _utc_now()
    distribution = make_strategy(strategy)
    with contextlib.ExitStack() as scope:
        scope.enter_context(episode_store(episode_dir, regenerate_episodes))
        scope.enter_context(distribution.scope())
        if progress:
            scope.enter_context(cell_progress(stem))
        if tensorboard is not None:
            scope.enter_context(tensorboard_logs(Path(tensorboard) / stem))
        produced = module.run(quick=quick, seed=seed, **options)
    if not isinstance(produced, dict) or "rows" not in produced:
        raise TypeError(f"benchmarks/{name}.py: run() must return a dict with 'rows' (and "
                        f"optionally 'settings' and 'notes'), got {type(produced).__name__}.")
    result = {
        "schema_version": schema.SCHEMA_VERSION, "benchmark": name,
        "description": describe(module), "mode": "quick" if quick else "full", "seed": seed,
        **({"tag": tag} if tag else {}),
        "options": _jsonable(options),
        "settings": _jsonable({**produced.get("settings", {}), **_strategy_settings(
            distribution)}),
        "notes": list(produced.get("notes", [])),
        "command": command or f"benchmarks.runner.run_benchmark({name!r}, quick={quick}, "
                              f"seed={seed}, options={options!r})",
        **code, "date": date,
        "duration_seconds": round(time.perf_counter() - start, 1),
        "machine": machine(),
        "load_average": {"start": _rounded(start_load), "end": _rounded(os.getloadavg())},
        "plot": None,
        "rows": _jsonable(produced["rows"]),
    }
    schema.validate(result)
    # Every worker of a multi-worker run writes (as TensorFlow asks); only the chief keeps it.
    with output_dir(images_dir) as images, output_dir(results_dir) as results:
        if callable(getattr(module, "plot", None)):
            picture = draw(module, result, Path(images) / f"benchmark_{stem}.png")
            result["plot"] = _relative(images_dir / picture.name)
        write_json(Path(results) / f"{stem}.json", result)
    return results_dir / f"{stem}.json", result


def _strategy_settings(strategy) -> dict:
    """The strategy a run used, for its settings (nothing for the default, one device)."""
    import tensorflow as tf

    if strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1:
        return {}
    return {"strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync}


def draw(module: ModuleType, result: dict, picture: Path) -> Path:
    """Save `module.plot(result)` to `picture` atomically; returns `picture`."""
    from l2l.viz import save

    save(module.plot(result), picture)
    return picture


def redraw(results_dir: str | os.PathLike = RESULTS_DIR,
           names: list[str] | None = None) -> list[Path]:
    """Redraw the pictures of the stored results (of `names`, default all) from their JSON.

    For a change to a module's `plot`: the picture is a function of the result alone, so no
    benchmark runs again. Results without a picture, or whose module has no `plot`, are skipped.
    """
    from benchmarks.readme import load_results

    drawn = []
    for result in load_results(results_dir):
        if names and result["benchmark"] not in names or not result["plot"]:
            continue
        module = load(result["benchmark"])
        if callable(getattr(module, "plot", None)):
            drawn.append(draw(module, result, ROOT / result["plot"]))
    return drawn


def recompute(results_dir: str | os.PathLike = RESULTS_DIR,
              names: list[str] | None = None) -> list[Path]:
    """Recompute the stored results of `names` (default all) whose module has `recompute`.

    For a change to how figures are summarised (intervals, verdicts, notes): a module's
    `recompute(result)` returns the result rebuilt from the raw values its JSON keeps
    (per-repeat scores, per-epoch times), so nothing is trained or timed again. Each JSON is
    rewritten (validated, atomically) with `recomputed` naming the commit that did it, and its
    picture redrawn. Returns the JSON paths written.
    """
    from benchmarks.readme import load_results

    written = []
    for result in load_results(results_dir):
        module = load(result["benchmark"])
        if names and result["benchmark"] not in names or not callable(
                getattr(module, "recompute", None)):
            continue
        result = module.recompute(result)
        result["recomputed"] = {"by": "python -m benchmarks recompute", "commit":
                                _commit()["commit"], "date": _utc_now()}
        stem = result_stem(result["benchmark"], result.get("tag"))
        path = Path(results_dir) / f"{stem}.json"
        write_json(path, result)
        if result["plot"] and callable(getattr(module, "plot", None)):
            draw(module, result, ROOT / result["plot"])
        written.append(path)
    return written


def result_stem(name: str, tag: str | None = None) -> str:
    """The file name (without suffix) of a result: `name`, or `name-tag` for a tagged run.

    >>> result_stem("two_digit"), result_stem("two_digit", "flagship")
    ('two_digit', 'two_digit-flagship')
    """
    if tag is None:
        return name
    if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag):
        raise InvalidValueError(
            f"Tag {tag!r} must be 1-40 lowercase letters, digits or underscores, starting "
            "with a letter or digit (it becomes part of a file name).")
    return f"{name}-{tag}"


def write_json(path: Path, record: dict) -> None:
    """Validate `record`, then write it to `path` atomically."""
    schema.validate(record)
    atomic.write_json(path, record, allow_nan=False)


def machine() -> dict:
    """The machine and software a result was measured with."""
    import h5py
    import keras
    import numpy
    import tensorflow as tf

    from benchmarks.common import device

    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "memory_gb": _memory_gb(),
        "os": platform.platform(), "device": device(), "python": platform.python_version(),
        "numpy": numpy.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
        "h5py": h5py.__version__,
    }


def _output_dirs(quick: bool, output) -> tuple[Path, Path]:
    if output is None:
        return (QUICK_DIR, QUICK_DIR) if quick else (RESULTS_DIR, IMAGES_DIR)
    output = Path(output).resolve()
    if quick and output in (RESULTS_DIR.resolve(), IMAGES_DIR.resolve()):
        raise InvalidValueError(
            f"A quick run may not write to {output}: that folder holds the full results "
            "docs/results.md reports. Pick another --output.")
    return output, output


def _commit() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.strip()
    try:
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                      ":(exclude)benchmarks/results", ":(exclude)images")
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed)}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": False}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _rounded(values) -> list[float]:
    return [round(float(v), 2) for v in values]


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path.resolve())


def _jsonable(value):
    """Tuples as lists, numpy scalars as Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value
