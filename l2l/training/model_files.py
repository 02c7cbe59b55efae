"""Saved models: an atomic `save_model` and a `load_model` whose errors name the problem.

- `save_model(model, path)`: `model.save(path)` through `l2l.training.atomic.atomic_path`, so
  an interrupted or failed save keeps the previous file.
- `load_model(path)`: `keras.models.load_model` with errors that say what is wrong: a missing
  or damaged file, or a custom learner/predictor class this process does not know.

Example:

>>> import os, tempfile
>>> from l2l.training.model_files import load_model
>>> load_model(os.path.join(tempfile.mkdtemp(), "missing.keras"))
Traceback (most recent call last):
...
l2l.training.model_files.ModelNotFoundError: No saved model at ...
"""

from __future__ import annotations

import json
import os
import zipfile

import keras

from l2l.errors import InvalidValueError, L2LError
from l2l.serialization import import_l2l_modules
from l2l.training.atomic import atomic_path


class ModelNotFoundError(L2LError, FileNotFoundError):
    """Nothing at the path a saved model was to be loaded from."""


class ModelFileError(L2LError, ValueError):
    """A saved model cannot be loaded: damaged file, or a class this process does not know."""



def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save(path)`, atomically: an interrupted or failed save keeps the old file."""
    if not os.fspath(path).endswith(".keras"):
        raise InvalidValueError(f"save_model writes the .keras format; name the file *.keras, got "
                         f"{os.fspath(path)!r}.")
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(path: str | os.PathLike, **kwargs) -> keras.Model:
    """`keras.models.load_model(path, **kwargs)` with errors that name the problem and the fix.

    l2l's own layers are always known. A model holding a custom class (your own learner, say)
    needs that class registered before loading: import the module that defines it (its
    `@l2l.serialization.register` decorator registers it), or pass
    `custom_objects={"package>Name": cls}`.

    Raises:
        ModelNotFoundError: nothing at `path` (a `FileNotFoundError`).
        ModelFileError: `path` is not a readable `.keras` file (truncated, corrupt), or the
            model uses a class this process does not know (named in the message).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelNotFoundError(f"No saved model at {path}: check the path (models are saved "
                                "with model.save('name.keras') or l2l.training.save_model).")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError, EOFError) as e:
        raise ModelFileError(
            f"{path} is not a readable .keras model ({type(e).__name__}: {e}): the file is "
            "truncated or corrupt, e.g. written by a save that was interrupted. Restore it "
            "from a copy or train again; l2l.training.save_model writes atomically, so a "
            "file it wrote is always complete.") from None
    if bad is not None:
        raise ModelFileError(f"{path} is corrupt: its member {bad!r} fails its checksum. "
                             "Restore the file from a copy or train again.")
    import_l2l_modules()  # registers l2l's own classes: every module using @register

    unknown = _unknown_classes(config, kwargs.get("custom_objects") or {})
    if unknown:
        lines = [f"  - {name} (registered as {reg!r}{f', defined in {mod}' if mod else ''})"
                 for name, reg, mod in unknown]
        raise ModelFileError(
            f"{path} uses custom class(es) that this process does not know:\n"
            + "\n".join(lines)
            + "\nImport the module that defines each class before loading (its "
            "@l2l.serialization.register or @keras.saving.register_keras_serializable "
            "decorator registers it), or pass custom_objects={'<registered name>': cls}.")
    return keras.models.load_model(path, **kwargs)


def _unknown_classes(config, custom_objects) -> list[tuple[str, str, str | None]]:
    """`(class_name, registered_name, module)` of every object in `config` Keras cannot find."""
    found, stack = [], [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        name, registered = node.get("class_name"), node.get("registered_name")
        if not isinstance(name, str) or "config" not in node or not registered:
            continue
        if "module" in node and str(node.get("module") or "").startswith("keras"):
            continue
        if registered in custom_objects or name in custom_objects:
            continue
        if keras.saving.get_registered_object(registered) is None:
            found.append((name, registered, node.get("module")))
    return sorted(set(found))
