"""The format of `benchmarks/results/<name>.json`, and a checker run before every write.

A result file is one JSON object:

    schema_version    int    SCHEMA_VERSION
    benchmark         str    the benchmark's name (its module in benchmarks/)
    tag               str    optional: names a second full run with other options; the file
                             is then <name>-<tag>.json (see `benchmarks.runner.result_stem`)
    description       str    the first line of the module's docstring
    mode              str    "full" or "quick" (quick files never go to benchmarks/results/)
    seed              int    the run's seed
    options           dict   the options given on the command line (-o key=value)
    settings          dict   everything the benchmark decided (grid, budgets, data, seeds)
    notes             list   sentences a reader needs (what was left out and why)
    command           str    the command line that produced the file
    commit            str    git commit of the code that ran; dirty: bool, uncommitted changes
    date              str    UTC start time, ISO 8601
    duration_seconds  float  wall-clock time of the whole run
    machine           dict   cpu, cores, memory_gb, os, device, python, numpy, tensorflow, keras
    load_average      dict   start/end: [1, 5, 15]-minute load averages (the machine is shared)
    plot              str|None  the picture's path (relative to the repository root if inside it)
    rows              list   one dict per measurement, with at least the ROW_FIELDS below

Rows may carry more fields (JSON values) than ROW_FIELDS, e.g. `time_to_target_seconds`.
"""

from __future__ import annotations

import math

SCHEMA_VERSION = 1
MODES = ("full", "quick")

_NUMBER = (int, float)
_OPTIONAL_NUMBER = (int, float, type(None))

FILE_FIELDS: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "benchmark": (str,),
    "description": (str,),
    "mode": (str,),
    "seed": (int,),
    "options": (dict,),
    "settings": (dict,),
    "notes": (list,),
    "command": (str,),
    "commit": (str,),
    "dirty": (bool,),
    "date": (str,),
    "duration_seconds": _NUMBER,
    "machine": (dict,),
    "load_average": (dict,),
    "plot": (str, type(None)),
    "rows": (list,),
}
MACHINE_FIELDS = ("cpu", "cores", "memory_gb", "os", "device", "python", "numpy", "tensorflow",
                  "keras")

ROW_FIELDS: dict[str, tuple[type, ...]] = {
    "method": (str,),               # what is measured: a learner kind, "generate/numpy", ...
    "settings": (dict,),            # the row's own settings (protocol, shots, batch size, ...)
    "seed": (int,),
    "metric": (str,),               # "accuracy", "mse", "episodes_per_second", ...
    "mean": _NUMBER,                # finite
    "ci95": _OPTIONAL_NUMBER,       # 95% confidence half-width, None when not estimated
    "episodes": (int,),             # episodes the mean is over (scored or measured)
    "train_seconds": _OPTIONAL_NUMBER,  # training wall-clock time, None if nothing trained
    "peak_rss_mb": _NUMBER,         # peak resident memory, see peak_rss_scope
    "peak_rss_scope": (str,),       # "row": process peak during this row; "process": since start
}


class SchemaError(ValueError):
    """A result record does not have the documented format."""


def validate(result: dict) -> dict:
    """Return `result` if it follows the format above, else raise `SchemaError` listing all
    problems.

    >>> validate({"rows": []})
    Traceback (most recent call last):
    ...
    benchmarks.schema.SchemaError: ...missing field 'benchmark'...
    """
    problems, valid = _check_fields("result", result, FILE_FIELDS)

    def present(key):  # further checks only for fields of the right type
        return key in valid

    if present("schema_version") and result["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version is {result['schema_version']}, expected "
                        f"{SCHEMA_VERSION}")
    if "tag" in result and not (isinstance(result["tag"], str) and result["tag"]):
        problems.append(f"tag must be a non-empty string when present, got {result['tag']!r}")
    if present("mode") and result["mode"] not in MODES:
        problems.append(f"mode is {result['mode']!r}, expected one of {MODES}")
    if present("machine"):
        problems += [f"machine lacks {k!r}" for k in MACHINE_FIELDS if k not in result["machine"]]
    if present("load_average"):
        for key in ("start", "end"):
            load = result["load_average"].get(key)
            if not (isinstance(load, list) and len(load) == 3
                    and all(isinstance(v, _NUMBER) for v in load)):
                problems.append(f"load_average.{key} must be three numbers, got {load!r}")
    if present("rows"):
        if not result["rows"]:
            problems.append("rows is empty: a benchmark must measure something")
        for i, row in enumerate(result["rows"]):
            problems += _check_row(f"rows[{i}]", row)
    if problems:
        raise SchemaError("Invalid benchmark result: " + "; ".join(problems) + ".")
    return result


def _check_row(where: str, row) -> list[str]:
    problems, valid = _check_fields(where, row, ROW_FIELDS)
    for key in {"mean", "ci95", "train_seconds", "peak_rss_mb"} & valid:
        value = row[key]
        if value is not None and not math.isfinite(value):
            problems.append(f"{where}.{key} is {value}, not a finite number")
    if "ci95" in valid and row["ci95"] is not None and row["ci95"] < 0:
        problems.append(f"{where}.ci95 is negative")
    if "episodes" in valid and row["episodes"] < 0:
        problems.append(f"{where}.episodes is negative")
    if "peak_rss_scope" in valid and row["peak_rss_scope"] not in ("row", "process"):
        problems.append(f"{where}.peak_rss_scope must be 'row' or 'process'")
    return problems


def _check_fields(where: str, record,
                  fields: dict[str, tuple[type, ...]]) -> tuple[list[str], set[str]]:
    """Problems with `record`'s fields, and the names of the fields that are fine."""
    if not isinstance(record, dict):
        return [f"{where} must be a JSON object, got {type(record).__name__}"], set()
    problems, valid = [], set()
    for key, types in fields.items():
        if key not in record:
            problems.append(f"{where}: missing field {key!r}")
        elif not isinstance(record[key], types) or (
                isinstance(record[key], bool) and bool not in types):
            names = "/".join("null" if t is type(None) else t.__name__ for t in types)
            problems.append(f"{where}.{key} must be {names}, got {record[key]!r}")
        else:
            valid.add(key)
    return problems, valid
