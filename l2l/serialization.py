"""Keras serialization helpers: one registration package and nested-layer configs.

Every l2l layer is registered under the `"l2l"` package, so a model built from them saves to and
loads from a `.keras` file. Layers that hold other layers (an encoder inside a learner, say) put
them in their config with `serialize_layers` and rebuild them with `deserialize_layers`.
`import_l2l_modules` imports every module of l2l (found by `package_modules`), so that every
class l2l registers is known before a model is loaded:

>>> "l2l.statistician" in package_modules() and "l2l.viz" not in package_modules()
True
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Collection

import keras

PACKAGE = "l2l"

NOT_IMPORTED = {
    "l2l.checkpoints": "deprecated alias of l2l.training: importing it warns",
    "l2l.distribute": "deprecated alias of l2l.training.distribute: importing it warns",
    "l2l.reconstruction": "deprecated alias of l2l.systems.reconstruction: importing it warns",
    "l2l.transfer": "deprecated alias of l2l.systems.transfer: importing it warns",
    "l2l.viz": "plots with matplotlib (an optional import); registers no class",
}
"""The modules (and packages) `import_l2l_modules` leaves alone, and why; none registers a class
(tests/test_bad_inputs.py checks that)."""


def register(cls):
    """Register an l2l layer or model class for `.keras` saving and loading."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def serialize_layers(**layers) -> dict:
    """`{name: layer or None}` -> `{name: serialized config or None}`."""
    return {k: None if v is None else keras.saving.serialize_keras_object(v)
            for k, v in layers.items()}


def deserialize_layers(config: dict, *names: str) -> dict:
    """A copy of `config` in which the entries `names` are layers again."""
    config = dict(config)
    for name in names:
        if config.get(name) is not None:
            config[name] = keras.saving.deserialize_keras_object(config[name])
    return config


def package_modules(skip: Collection[str] = tuple(NOT_IMPORTED)) -> list[str]:
    """The dotted names of l2l's modules and packages, sorted, less `skip` and all below a
    skipped package. Found on disk (`pkgutil.iter_modules`): nothing is imported."""
    def walk(path: str, prefix: str):
        for info in pkgutil.iter_modules([path], prefix):
            if info.name not in skip:
                yield info.name
                if info.ispkg:
                    yield from walk(os.path.join(path, info.name.rpartition(".")[2]),
                                    f"{info.name}.")

    return sorted(walk(os.path.dirname(os.path.abspath(__file__)), f"{PACKAGE}."))


def import_l2l_modules() -> None:
    """Import every module of `package_modules()`, so that every class l2l registers for
    saving (`register`) is known to Keras; `l2l.training.load_model` calls it."""
    for name in package_modules():
        importlib.import_module(name)
