"""Per-example networks (encoders) that learners, predictors and MetaModel share."""

from __future__ import annotations

import keras
from keras import layers


def conv_encoder(filters=(32, 64, 64), units: int = 128, batch_norm: bool = True,
                 input_scale: float = 1 / 255, name: str = "conv_encoder") -> keras.Sequential:
    """A conv net for small images: `[H, W, C]` (uint8 or float) in, `[units]` features out.

    Each block is a 3x3 convolution, optional batch normalisation, ReLU and 2x2 max pooling.
    Flattening (not global pooling) keeps where things are, which matters when the left and
    right digits of a number mean different things.

    Example:

    >>> import numpy as np
    >>> from l2l.networks import conv_encoder
    >>> tuple(conv_encoder(units=16)(np.zeros((2, 28, 56, 1))).shape)
    (2, 16)
    """
    blocks = [layers.Rescaling(input_scale)]
    for f in filters:
        blocks.append(layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm))
        if batch_norm:
            # Momentum 0.9, not Keras's 0.99: meta-training runs are often only a few hundred
            # steps, and slow moving statistics then make inference-mode outputs collapse.
            blocks.append(layers.BatchNormalization(momentum=0.9))
        blocks += [layers.ReLU(), layers.MaxPooling2D(2)]
    blocks += [layers.Flatten(), layers.Dense(units, activation="relu")]
    return keras.Sequential(blocks, name=name)
