"""ANIL (Raghu et al., 2020): MAML whose inner loop adapts the head only.

"Almost No Inner Loop": the body (every layer but the last `head_layers` layers with weights)
is meta-learned like MAML's initialisation but kept fixed inside the inner loop; only the head
adapts per episode. With the batched engine the body then runs as one ordinary network over
all the episodes' examples (shared weights: plain convolutions, no grouping), so an ANIL step
costs little more than a supervised step. Built on the `adapted_variables` hook of
`GradientMetaLearner`; every other option (first order, stopping, XLA, batch norm) is as MAML.

Example:

>>> import keras
>>> from l2l.algorithms import ANIL
>>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
...                         keras.layers.Dense(3)])
>>> anil = ANIL(net, loss="sparse_categorical_crossentropy")
>>> anil.adapted_variables()
[False, False, True, True]
"""

from __future__ import annotations

import keras

from l2l.algorithms.base import GradientMetaLearner
from l2l.serialization import register
from l2l.validation import check_positive_int


def leaf_layers(model: keras.Layer) -> list:
    """The layers of `model` that are not models themselves, nested models walked in order."""
    if not isinstance(model, keras.Model):
        return [model]
    return [leaf for layer in model.layers for leaf in leaf_layers(layer)]


@register
class ANIL(GradientMetaLearner):
    """MAML adapting only the head of `model` in the inner loop.

    Args:
        model, loss, ...: as `GradientMetaLearner`.
        head_layers: how many of the last layers with trainable weights form the head (the
            adapted part); 1, the classifier, in the paper.
    """

    def __init__(self, model, loss="mse", head_layers: int = 1, **kwargs):
        self.head_layers = check_positive_int("head_layers", head_layers)
        super().__init__(model, loss=loss, **kwargs)

    def adapted_variables(self) -> list[bool]:
        weighted = [layer for layer in leaf_layers(self.model) if layer.trainable_weights]
        if self.head_layers >= len(weighted):
            raise ValueError(f"ANIL: head_layers={self.head_layers} leaves no body: the model "
                             f"has {len(weighted)} layers with weights. Use MAML to adapt all.")
        head = {id(v) for layer in weighted[-self.head_layers:] for v in layer.trainable_weights}
        return [id(v) in head for v in self.model.trainable_variables]

    def get_config(self):
        return {**super().get_config(), "head_layers": self.head_layers}
