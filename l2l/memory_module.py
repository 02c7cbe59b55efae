"""Kaiser et al. (2017)'s memory module as an N-way K-shot classifier, ready to train.

`memory_classifier(ways)` is a compiled `MetaModel` of the `"memory"` kind
(`l2l.presets.classification_model("memory", ways)`): a shared encoder embeds support and
query examples, `l2l.learners.KeyValueMemory` writes the support set into an emptied
key-value memory with the paper's update rule, `l2l.predictors.NearestKeyPredictor` scores
each class by the query's nearest key of that class, and the model trains on the paper's
memory loss (`MemoryLoss`, margin 0.1) with accuracy as its metric.

Example:

>>> import keras
>>> from l2l.memory_module import memory_classifier
>>> model = memory_classifier(5, encoder=keras.layers.Dense(8))
>>> type(model.learner).__name__, type(model.predictor).__name__, model.loss.name
('KeyValueMemory', 'NearestKeyPredictor', 'memory_loss')
"""

from __future__ import annotations

import keras

from l2l.models import MetaModel


def memory_classifier(ways: int, encoder: keras.layers.Layer | None = None, width: int = 64,
                      input_scale: float = 1 / 255, learning_rate: float = 1e-3,
                      jit_compile: bool | str = "auto") -> MetaModel:
    """`l2l.presets.classification_model("memory", ...)`: logits (nearest-key cosines)
    `[B, Q, ways]`, trained on the memory loss.

    Args:
        ways: classes per episode.
        encoder: the embedding network shared by support and query examples; by default
            `l2l.networks.conv_encoder((32, 32, 32), units=width)` for images.
        width: embedding size of the default encoder.
        input_scale: scale of raw inputs in the default encoder (1/255: uint8 pixels).
        learning_rate: Adam's learning rate.
    """
    from l2l.presets import classification_model

    return classification_model("memory", ways, encoder=encoder, width=width,
                                input_scale=input_scale, learning_rate=learning_rate,
                                jit_compile=jit_compile)
