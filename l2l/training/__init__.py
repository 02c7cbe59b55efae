"""Training support around `Model.fit`, one job per module.

| module | job |
| --- | --- |
| `l2l.training.budget` | `TimeBudget`: stop `fit` (and anneal the learning rate) on time |
| `l2l.training.checkpoints` | `BackupAndRestore`: kill-safe checkpoints, exact resume |
| `l2l.training.model_files` | `save_model` (atomic), `load_model` (errors that name the fix) |
| `l2l.training.atomic` | `atomic_path`, `write_bytes`, `write_text`, `write_json`: atomic files |
| `l2l.training.distribute` | `tf.distribute`: strategy from `TF_CONFIG`, chief, batch split |
| `l2l.training.measure` | `generation_rate`, `peak_rss_mb`: episodes per second, memory |

The main names are importable from here; each is loaded on first use, so importing one
module (e.g. `l2l.training.distribute`) does not import the others.

Example:

>>> from l2l.training import TimeBudget
>>> TimeBudget(minutes=15).budget_seconds
900.0
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TimeBudget": "budget",
    "BackupAndRestore": "checkpoints",
    "CheckpointError": "checkpoints",
    "ModelFileError": "model_files",
    "load_model": "model_files",
    "save_model": "model_files",
    "atomic_path": "atomic",
    "write_bytes": "atomic",
    "write_text": "atomic",
    "write_json": "atomic",
    "generation_rate": "measure",
    "peak_rss_mb": "measure",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
