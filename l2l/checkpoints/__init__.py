"""Deprecated alias: import from `l2l.training` (`checkpoints`, `model_files`, `atomic`).

This path goes in the next release.

(A package rather than a `checkpoints.py` module, so that git follows the moved file's history.)

Example, the new import:

>>> from l2l.training import BackupAndRestore
"""

import warnings

from l2l.training.atomic import atomic_path, write_json
from l2l.training.checkpoints import STATE_FILE, BackupAndRestore, CheckpointError
from l2l.training.model_files import ModelFileError, load_model, save_model

__all__ = ["STATE_FILE", "BackupAndRestore", "CheckpointError", "ModelFileError", "atomic_path",
           "load_model", "save_model", "write_json"]

warnings.warn("l2l.checkpoints is deprecated: import from l2l.training (its modules "
              "checkpoints, model_files and atomic) instead.",
              DeprecationWarning, stacklevel=2)
