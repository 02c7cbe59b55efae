"""Keras serialization helpers: one registration package and nested-layer configs.

Every l2l layer is registered under the `"l2l"` package, so a model built from them saves to and
loads from a `.keras` file. Layers that hold other layers (an encoder inside a learner, say) put
them in their config with `serialize_layers` and rebuild them with `deserialize_layers`.
"""

from __future__ import annotations

import keras

PACKAGE = "l2l"


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
