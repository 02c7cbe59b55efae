"""Losses l2l adds to Keras's: sparse cross-entropy with label smoothing.

`SmoothedSparseCrossentropy(label_smoothing)` is Keras's categorical cross-entropy with
`label_smoothing` on integer labels: the target puts `1 - label_smoothing` on the true class
and spreads `label_smoothing` evenly over all `N` classes (Szegedy et al., 2016), so a model is
not pushed to ever larger logits on the episodes it trains on. Keras's
`SparseCategoricalCrossentropy` has no `label_smoothing`; this one-hot encodes the labels to
the logits' class count, then calls `keras.losses.categorical_crossentropy`. With
`label_smoothing=0` it equals the plain sparse cross-entropy.

Example:

>>> import numpy as np
>>> from l2l.losses import SmoothedSparseCrossentropy
>>> logits, labels = np.array([[2.0, 0.0, 0.0]]), np.array([0])
>>> round(float(SmoothedSparseCrossentropy(0.0)(labels, logits)), 4)  # -log softmax(2)_0
0.2395
>>> round(float(SmoothedSparseCrossentropy(0.3)(labels, logits)), 4)  # target 0.8, 0.1, 0.1
0.6395
"""

from __future__ import annotations

import keras
from keras import ops

from l2l.serialization import register
from l2l.validation import check_fraction


@register
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of logits `[..., N]` against integer labels `[...]`, labels smoothed.

    Args:
        label_smoothing: the probability mass spread evenly over the `N` classes, in [0, 1).
        from_logits: whether predictions are logits (l2l's classifiers emit logits).
    """

    def __init__(self, label_smoothing: float = 0.1, from_logits: bool = True,
                 name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = check_fraction("label_smoothing", label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        target = ops.one_hot(ops.cast(y_true, "int32"), classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}
