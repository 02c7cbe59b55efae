# Over 300 lines: one class, BackupAndRestore, and the identity checks it alone uses.
"""Resumable training: a `BackupAndRestore` callback that is safe to kill and exact on resume.

Keras's callback of that name, made safe to kill at any moment (atomic checkpoints, see
`l2l.training.atomic`), resumable to the exact episode (`start_batch`), and refusing to
resume from a checkpoint of a different model or configuration.

Resuming a run after a crash, `kill -9` or preemption is running the same script again:

    backup = BackupAndRestore("runs/exp/checkpoint", config={"seed": 0, "batch_size": 32})
    model.fit(task.dataset(32, seed=0, start_batch=backup.start_batch),
              steps_per_epoch=100, epochs=30, callbacks=[backup])
    history = backup.history        # every epoch, those before the interruption included

Checkpoints are written at the end of every epoch (Keras restarts an interrupted epoch from
its beginning, so a mid-epoch checkpoint could not be resumed exactly).

Example:

>>> import tempfile
>>> from l2l.training.checkpoints import BackupAndRestore
>>> BackupAndRestore(tempfile.mkdtemp()).start_batch     # a fresh folder: nothing to resume
0
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time

import keras

from l2l.errors import L2LError
from l2l.keras_compat import resume_fit_at
from l2l.training.atomic import TMP_PREFIX, atomic_path, write_json

STATE_FILE = "checkpoint.json"
_LOCK_FILE = ".lock"
_FORMAT = 1
_HELD_LOCKS: dict = {}  # lock file -> open handle, for the folders this process trains in


class CheckpointError(L2LError, ValueError):
    """A checkpoint cannot be used: of another model or configuration, damaged, or in use."""


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore`, safe to kill at any moment and exact on resume.

    At the end of every epoch it saves the model and optimizer state (Keras `save_weights`)
    and a small `checkpoint.json` naming that weights file, each written to a temporary file
    and moved into place, so the checkpoint on disk is always a complete epoch. On the next
    `fit` with the same directory it restores the latest checkpoint and training continues at
    the next epoch, as with Keras's callback; three things are added:

    - `start_batch`: the number of batches trained so far. Pass it to
      `task.dataset(..., start_batch=backup.start_batch)` so a resumed run sees exactly the
      episodes an uninterrupted one would (a restarted `fit` would otherwise replay the
      stream from batch 0).
    - Identity: the checkpoint records the model's structure (its config without layer names,
      its weight shapes, its optimizer) and your `config` (seed, batch size, ...); resuming
      with a different one raises `CheckpointError` naming the differences, before anything
      is overwritten.
    - `history`: the logs of every epoch, those before the interruption included.

    Args:
        backup_dir: folder for this run's checkpoint; one run per folder (a lock refuses a
            second concurrent run).
        config: JSON-able settings that must match on resume (anything that changes the run).
        resume: `True` continues from a checkpoint found in `backup_dir`; `False` refuses to
            start when there is one (it never overwrites a checkpoint it did not resume).
        delete_checkpoint: delete the checkpoint when `fit` ends. Off by default: delete it
            with `delete()` once the results are saved, so a crash in between loses nothing.

    Under `MultiWorkerMirroredStrategy` only the chief writes to `backup_dir` (the other
    workers save to a temporary folder they delete, as TensorFlow requires); every worker
    must see `backup_dir` (a shared file system) to restore.
    """

    def __init__(self, backup_dir: str | os.PathLike, config: dict | None = None,
                 resume: bool = True, delete_checkpoint: bool = False):
        super().__init__(os.fspath(backup_dir), save_freq="epoch",
                         delete_checkpoint=delete_checkpoint)
        self.config = json.loads(json.dumps(config or {}, default=str))
        self.resume = resume
        self._lock = None
        self._state = self._read_state()
        if self._state is not None:
            if not resume:
                raise CheckpointError(
                    f"{self.backup_dir} already holds a checkpoint (epoch "
                    f"{self._state['epoch']}, saved {self._state.get('saved', '?')}). Resume it "
                    "(resume=True, or --resume), pick another folder, or delete this one to "
                    "start afresh; a checkpoint is never overwritten by a run that did not "
                    "resume it.")
            _check_same("configuration", self._state.get("config", {}), self.config,
                        self.backup_dir)
        self.epoch = 0 if self._state is None else int(self._state["epoch"])
        self.start_batch = 0 if self._state is None else int(self._state["step"])
        self.history = {k: list(v) for k, v in (self._state or {}).get("history", {}).items()}

    # -- Keras hooks

    def on_train_begin(self, logs=None):
        if _is_chief():
            self._acquire_lock()
            self._remove_stale_files(keep=None)
        try:
            self._restore()
        except BaseException:
            self._release_lock()
            raise

    def _restore(self) -> None:
        if self._state is None:
            return
        model = self.model
        if not model.built:
            if not self._state.get("build_config"):
                raise CheckpointError("Build the model before fit (call it on one batch) to "
                                      f"restore the checkpoint in {self.backup_dir}.")
            with _strategy_scope(model):
                model.build_from_config(self._state["build_config"])
        saved = dict(self._state["model"], config=_without_names(self._state["model"]["config"]))
        _check_same("model", saved, _model_identity(model), self.backup_dir)
        if model.optimizer is not None and not model.optimizer.built:
            with _strategy_scope(model):
                model.optimizer.build(model.trainable_variables)
        weights = os.path.join(self.backup_dir, self._state["weights"])
        try:
            model.load_weights(weights)
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"Cannot restore the checkpoint {weights} ({type(e).__name__}: {e}). The file "
                f"is missing or damaged; delete {self.backup_dir} to start afresh.") from e
        resume_fit_at(model, self.epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self._steps_this_epoch = 0
        self._epoch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self._steps_this_epoch = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.start_batch += self._steps_this_epoch
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self._save()

    def on_train_end(self, logs=None):
        resume_fit_at(self.model, None)  # a later fit of this model starts where it is told
        self._release_lock()
        if self.delete_checkpoint:
            self.delete()

    # -- public helpers

    def delete(self) -> None:
        """Delete this run's checkpoint files (and the folder, when nothing else is in it)."""
        if not _is_chief() or not os.path.isdir(self.backup_dir):
            return
        for name in os.listdir(self.backup_dir):
            if name in (STATE_FILE, _LOCK_FILE) or _is_ours(name):
                os.remove(os.path.join(self.backup_dir, name))
        with contextlib.suppress(OSError):
            os.rmdir(self.backup_dir)
        self._state = None

    # -- internals

    def _save(self) -> None:
        model = self.model
        name = f"epoch-{self.epoch:04d}.weights.h5"
        state = {
            "format": _FORMAT, "epoch": self.epoch, "step": self.start_batch,
            "steps_per_epoch": (self.params or {}).get("steps"), "weights": name,
            "history": self.history, "config": self.config, "model": _model_identity(model),
            "build_config": model.get_build_config(), "keras": keras.__version__,
            "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if not _is_chief():  # every worker must take part in saving; only the chief keeps it
            scratch = tempfile.mkdtemp()
            try:
                model.save_weights(os.path.join(scratch, name))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return
        with atomic_path(os.path.join(self.backup_dir, name)) as tmp:
            model.save_weights(tmp)
        write_json(os.path.join(self.backup_dir, STATE_FILE), state)
        self._state = state
        self._remove_stale_files(keep=name)

    def _read_state(self) -> dict | None:
        path = os.path.join(self.backup_dir, STATE_FILE)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as f:
                state = json.load(f)
            state["epoch"], state["step"], state["weights"]  # noqa: B018 (presence check)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(
                f"{path} is not a readable l2l checkpoint ({type(e).__name__}: {e}); it was "
                f"not written by l2l.training.BackupAndRestore, or was edited. Delete "
                f"{self.backup_dir} to start afresh.") from None
        if state.get("format") != _FORMAT:
            raise CheckpointError(f"{path} has checkpoint format {state.get('format')!r}; this "
                                  f"l2l reads format {_FORMAT}. Resume with the l2l version "
                                  "that wrote it, or delete the folder to start afresh.")
        return state

    def _remove_stale_files(self, keep: str | None) -> None:
        """Remove temporary files left by killed runs and weights no longer referenced."""
        if not os.path.isdir(self.backup_dir):
            return
        current = keep or (self._state or {}).get("weights")
        for name in os.listdir(self.backup_dir):
            if _is_ours(name) and name != current:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.backup_dir, name))

    def _acquire_lock(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        path = os.path.realpath(os.path.join(self.backup_dir, _LOCK_FILE))
        stale = _HELD_LOCKS.pop(path, None)
        if stale is not None:  # left held by an earlier fit of this process that failed
            stale.close()
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise CheckpointError(
                f"Another process (pid {owner}) is training with the checkpoint folder "
                f"{self.backup_dir}. Wait for it to finish, or give this run its own "
                "folder.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = _HELD_LOCKS[path] = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the flock (so does the process dying)
            _HELD_LOCKS.pop(os.path.realpath(self._lock.name), None)
            self._lock = None


def _is_ours(name: str) -> bool:
    return name.endswith(".weights.h5") and (name.startswith(("epoch-", TMP_PREFIX)))


def _is_chief() -> bool:
    from l2l.training.distribute import is_chief

    return is_chief()


def _strategy_scope(model):
    strategy = getattr(model, "distribute_strategy", None)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _model_identity(model: keras.Model) -> dict:
    """What must match to resume: the config without names, weight shapes, the optimizer."""
    try:
        config = _without_names(model.get_config())
    except NotImplementedError:
        config = None
    return {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "config": json.loads(json.dumps(config, default=str)),
        "weights": [list(map(int, w.shape)) for w in model.weights],
        "optimizer": None if model.optimizer is None else type(model.optimizer).__name__,
    }


_VARYING = ("name", "shared_object_id", "build_config", "build_input_shape", "batch_shape",
            "batch_input_shape")


def _without_names(config):
    """`config` without what varies between processes and batches: layer names, shared-object
    ids and the shapes a model was built with, batch size included (weight shapes are
    compared instead)."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k not in _VARYING}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


def _differences(saved, current, path="") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in saved or key not in current:
                out.append(f"{where}: {saved.get(key, '<absent>')!r} in the checkpoint, "
                           f"{current.get(key, '<absent>')!r} now")
            else:
                out += _differences(saved[key], current[key], where)
        return out
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        return [d for i, (a, b) in enumerate(zip(saved, current, strict=True))
                for d in _differences(a, b, f"{path}[{i}]")]
    if saved != current:
        return [f"{path or 'value'}: {saved!r} in the checkpoint, {current!r} now"]
    return []


def _check_same(what: str, saved, current, folder: str) -> None:
    diffs = _differences(saved, current)
    if diffs:
        shown = "\n".join(f"  - {d}" for d in diffs[:8])
        more = f"\n  ... and {len(diffs) - 8} more" if len(diffs) > 8 else ""
        raise CheckpointError(
            f"The checkpoint in {folder} was made by a different {what}:\n{shown}{more}\n"
            f"Resume with the {what} that made it, give this run another checkpoint folder, "
            "or delete the folder to start afresh.")

