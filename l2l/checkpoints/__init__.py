"""Deprecated alias of `l2l.training` (a package, so git follows the moved file).

>>> from l2l.training import BackupAndRestore, load_model, save_model  # the new path
"""

from l2l.deprecation import warn_moved
from l2l.training.atomic import atomic_path, write_json
from l2l.training.checkpoints import STATE_FILE, BackupAndRestore, CheckpointError
from l2l.training.model_files import ModelFileError, load_model, save_model

__all__ = ["STATE_FILE", "BackupAndRestore", "CheckpointError", "ModelFileError", "atomic_path",
           "load_model", "save_model", "write_json"]

warn_moved(__name__, "l2l.training")
