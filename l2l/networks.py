"""Per-example networks (encoders) that learners, predictors and MetaModel share."""

from __future__ import annotations

import keras
from keras import layers, ops

from l2l.errors import InvalidValueError
from l2l.serialization import deserialize_layers, register, serialize_layers


def conv_encoder(filters=(32, 64, 64), units: int = 128, batch_norm: bool = True,
                 input_scale: float = 1 / 255, name: str = "conv_encoder",
                 residual: bool = False) -> keras.Sequential:
    """A conv net for small images: `[H, W, C]` (uint8 or float) in, `[units]` features out.

    Each block is a 3x3 convolution, optional batch normalisation, ReLU and 2x2 max pooling;
    with `residual=True` each block is a `ResidualConvBlock` (two convolutions and a skip
    connection, about twice the step cost) followed by the pooling.
    Flattening (not global pooling) keeps where things are, which matters when the left and
    right digits of a number mean different things.

    Example:

    >>> import numpy as np
    >>> from l2l.networks import conv_encoder
    >>> tuple(conv_encoder(units=16)(np.zeros((2, 28, 56, 1))).shape)
    (2, 16)
    >>> tuple(conv_encoder((8, 8), units=16, residual=True)(np.zeros((2, 28, 28, 1))).shape)
    (2, 16)
    """
    blocks = [layers.Rescaling(input_scale)]
    for f in filters:
        if residual:
            blocks.append(ResidualConvBlock(f, batch_norm=batch_norm))
        else:
            blocks.append(layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm))
            if batch_norm:
                blocks.append(_batch_norm())
            blocks.append(layers.ReLU())
        blocks.append(layers.MaxPooling2D(2))
    blocks += [layers.Flatten(), layers.Dense(units, activation="relu")]
    return keras.Sequential(blocks, name=name)


def _batch_norm() -> layers.BatchNormalization:
    # Momentum 0.9, not Keras's 0.99: meta-training runs are often only a few hundred steps,
    # and slow moving statistics then make inference-mode outputs collapse.
    return layers.BatchNormalization(momentum=0.9)


@register
class ResidualConvBlock(keras.layers.Layer):
    """`relu(x' + F(x))` with `F` two 3x3 convolutions (each optionally batch-normalised, ReLU
    between them) and `x'` the input, projected by a 1x1 convolution when its channels differ
    from `filters` (He et al. 2016's basic block). The spatial size is kept.

    Example:

    >>> import numpy as np
    >>> from l2l.networks import ResidualConvBlock
    >>> tuple(ResidualConvBlock(8)(np.zeros((2, 14, 14, 3))).shape)
    (2, 14, 14, 8)
    """

    def __init__(self, filters: int, batch_norm: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.batch_norm = int(filters), batch_norm
        bias = not batch_norm
        self.conv1 = layers.Conv2D(self.filters, 3, padding="same", use_bias=bias, name="conv1")
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", use_bias=bias, name="conv2")
        self.norm1 = _batch_norm() if batch_norm else None
        self.norm2 = _batch_norm() if batch_norm else None
        self.skip = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.conv1.build(shape)
        inner = (*shape[:-1], self.filters)
        self.conv2.build(inner)
        for norm in (self.norm1, self.norm2):
            if norm is not None:
                norm.build(inner)
        if shape[-1] != self.filters:
            self.skip = layers.Conv2D(self.filters, 1, use_bias=False, name="skip")
            self.skip.build(shape)

    def call(self, x, training=None):
        h = self.conv1(x)
        if self.norm1 is not None:
            h = self.norm1(h, training=training)
        h = self.conv2(ops.relu(h))
        if self.norm2 is not None:
            h = self.norm2(h, training=training)
        return ops.relu(h + (x if self.skip is None else self.skip(x)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "batch_norm": self.batch_norm}


@register
class SideBySideEncoder(keras.layers.Layer):
    """Encode an image made of `parts` equal tiles side by side with one shared encoder.

    `[N, H, parts * W, C]` in, `[N, parts * D]` out: the tiles go through `encoder` as one
    batch and their features are concatenated left to right. For a two-digit number this
    makes the embedding a pair of digit embeddings, so an unseen number is embedded from
    digits seen in training instead of from a whole-image template the model memorised.

    Example:

    >>> import numpy as np
    >>> from l2l.networks import SideBySideEncoder, conv_encoder
    >>> tuple(SideBySideEncoder(conv_encoder(units=16), parts=2)(np.zeros((3, 28, 56, 1))).shape)
    (3, 32)
    """

    def __init__(self, encoder: keras.layers.Layer, parts: int = 2, **kwargs):
        super().__init__(**kwargs)
        if parts < 1:
            raise InvalidValueError(f"parts must be at least 1, got {parts}.")
        self.encoder, self.parts = encoder, parts

    def build(self, input_shape):
        height, width, channels = input_shape[1:]
        if width % self.parts:
            raise InvalidValueError(f"Image width {width} does not split into {self.parts} equal "
                             "tiles.")
        self.tile_shape = (height, width // self.parts, channels)
        self.encoder.build((None, *self.tile_shape))

    def call(self, images, training=None):
        height, tile_width, channels = self.tile_shape
        tiles = ops.reshape(images, (-1, height, self.parts, tile_width, channels))
        tiles = ops.reshape(ops.transpose(tiles, (0, 2, 1, 3, 4)),
                            (-1, height, tile_width, channels))
        features = self.encoder(tiles, training=training)
        return ops.reshape(features, (-1, self.parts * features.shape[-1]))

    def compute_output_shape(self, input_shape):
        out = self.encoder.compute_output_shape((None, *self.tile_shape))
        return (input_shape[0], self.parts * out[-1])

    def get_config(self):
        return {**super().get_config(), "parts": self.parts,
                **serialize_layers(encoder=self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "encoder"))
