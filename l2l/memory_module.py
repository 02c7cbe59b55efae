"""Kaiser et al. (2017)'s memory module as an N-way K-shot classifier, ready to train.

`memory_classifier(ways)` is a compiled `MetaModel`: a shared encoder embeds support and
query examples, `l2l.learners.KeyValueMemory` writes the support set into an emptied
key-value memory with the paper's update rule, `l2l.predictors.NearestKeyPredictor` scores
each class by the query's nearest key of that class, and the model trains on the paper's
memory loss (`MemoryLoss`, margin 0.1) with accuracy as its metric. Its kind name in
`l2l.presets` is `"memory"`.

Example:

>>> import keras
>>> from l2l.memory_module import memory_classifier
>>> model = memory_classifier(5, encoder=keras.layers.Dense(8))
>>> type(model.learner).__name__, type(model.predictor).__name__, model.loss.name
('KeyValueMemory', 'NearestKeyPredictor', 'memory_loss')
"""

from __future__ import annotations

import keras

from l2l.learners import KeyValueMemory
from l2l.models import MetaModel
from l2l.predictors import MemoryLoss, NearestKeyPredictor


def memory_classifier(ways: int, encoder: keras.layers.Layer | None = None, width: int = 64,
                      input_scale: float = 1 / 255, learning_rate: float = 1e-3,
                      margin: float = 0.1, memory_size: int | None = None,
                      jit_compile: bool | str = "auto") -> MetaModel:
    """A compiled memory-module classifier: logits (nearest-key cosines) `[B, Q, ways]`.

    Args:
        ways: classes per episode.
        encoder: the embedding network shared by support and query examples; by default
            `l2l.networks.conv_encoder((32, 32, 32), units=width)` for images.
        width: embedding size of the default encoder.
        input_scale: scale of raw inputs in the default encoder (1/255: uint8 pixels).
        learning_rate: Adam's learning rate.
        margin: the memory loss margin.
        memory_size: memory slots; `None` gives one per support example.
    """
    from l2l.networks import conv_encoder

    if encoder is None:
        encoder = conv_encoder((32, 32, 32), units=width, input_scale=input_scale)
    model = MetaModel(KeyValueMemory(ways, memory_size=memory_size), NearestKeyPredictor(),
                      encoder=encoder, name=f"memory_{ways}way")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=MemoryLoss(margin),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                  jit_compile=jit_compile)
    return model
