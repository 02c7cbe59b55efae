"""Label-preserving image augmentation: small random shifts and rotations.

A handwritten character shifted by a pixel or two, or turned by a few degrees, is still the same
character, so training on such copies adds examples without changing any label (never use
large rotations or flips where they change the class: a turned 6 is a 9, and l2l's Omniglot
90-degree turns are classes of their own).

- `shift_rotate(images, degrees, shifts)`: the deterministic core, one angle and one shift
  per image, as a single affine resampling (bilinear, zero fill).
- `RandomShiftRotate`: a Keras preprocessing layer drawing them at random when `training`
  (identity at inference), seeded and serialisable; put it in front of an encoder.
- `augment_episodes(dataset, ...)`: a tf.data map over a dataset of episodes (the
  `TaskDistribution.dataset` layout) that augments every support and query image of
  *training* episodes; deterministic per `seed` (stateless draws keyed by the batch index).

Images keep their shape and dtype (uint8 in, rounded uint8 out), and labels are untouched.

Example:

>>> import numpy as np
>>> from l2l.augment import RandomShiftRotate, shift_rotate
>>> img = np.zeros((1, 9, 9, 1), "float32"); img[0, 4, 4, 0] = 1.0
>>> moved = np.asarray(shift_rotate(img, degrees=[0.0], shifts=[[1.0, 2.0]]))  # (dy, dx)
>>> [int(v) for v in np.argwhere(moved[0, ..., 0] == 1.0)[0]]
[5, 6]
>>> layer = RandomShiftRotate(max_shift=2, max_degrees=10, seed=1)
>>> tuple(layer(np.zeros((4, 28, 28, 1), "uint8"), training=True).shape)
(4, 28, 28, 1)
"""

from __future__ import annotations

import math

import keras
from keras import ops

from l2l.errors import invalid_value
from l2l.serialization import register

__all__ = ["RandomShiftRotate", "augment_episodes", "shift_rotate"]

IMAGE_KEYS = ("support_x", "query_x")
"""The episode fields `augment_episodes` augments (every other field passes unchanged)."""


def _check(max_shift: float, max_degrees: float) -> tuple[float, float]:
    for name, value in (("max_shift", max_shift), ("max_degrees", max_degrees)):
        if isinstance(value, bool) or not 0 <= float(value) < math.inf:
            raise invalid_value(name, value, "a finite number >= 0")
    if float(max_degrees) > 45:
        raise invalid_value("max_degrees", max_degrees, "at most 45 degrees",
                            "larger turns can change a character's class; use class-making "
                            "rotations (Omniglot.rotated) for those")
    return float(max_shift), float(max_degrees)


def shift_rotate(images, degrees, shifts):
    """`images [N, H, W, C]` each turned by `degrees [N]` (counter-clockwise, about the centre)
    and then moved by `shifts [N, 2]` pixels `(down, right)`; same shape and dtype."""
    x = ops.convert_to_tensor(images)
    dtype = x.dtype
    height, width = x.shape[1], x.shape[2]
    angle = ops.cast(ops.convert_to_tensor(degrees), "float32") * (math.pi / 180.0)
    shift = ops.cast(ops.convert_to_tensor(shifts), "float32")
    cos, sin = ops.cos(angle), ops.sin(angle)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    # affine_transform maps each output pixel (x, y) to the input pixel it reads from:
    # the inverse of "rotate about the centre, then shift".
    ox, oy = cx + shift[:, 1], cy + shift[:, 0]
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - a0 * ox - a1 * oy
    b2 = cy - b0 * ox - b1 * oy
    zeros = ops.zeros_like(cos)
    transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    out = ops.image.affine_transform(ops.cast(x, "float32"), transform,
                                     interpolation="bilinear", fill_mode="constant",
                                     data_format="channels_last")
    if "int" in str(dtype):
        out = ops.clip(ops.round(out), 0, 255)
    return ops.cast(out, dtype)


def _draw(count, max_shift: float, max_degrees: float, uniform):
    """`(degrees [count], shifts [count, 2])` from `uniform(shape, low, high)`."""
    degrees = uniform((count,), -max_degrees, max_degrees)
    shifts = uniform((count, 2), -max_shift, max_shift)
    return degrees, shifts


@register
class RandomShiftRotate(keras.layers.Layer):
    """Random shifts (up to `max_shift` pixels each way) and rotations (up to `max_degrees`),
    drawn independently per image when `training`; the identity otherwise.

    Accepts `[N, H, W, C]` or episode tensors `[B, S, H, W, C]` (any leading dimensions).
    Same `seed`, same draws: two layers built with one seed transform alike.
    """

    def __init__(self, max_shift: float = 2.0, max_degrees: float = 10.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift, self.max_degrees = _check(max_shift, max_degrees)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        shape = ops.shape(images)
        flat = ops.reshape(images, (-1, *images.shape[-3:]))

        def uniform(size, low, high):
            return keras.random.uniform(size, low, high, seed=self.seed_generator)

        degrees, shifts = _draw(ops.shape(flat)[0], self.max_shift, self.max_degrees, uniform)
        return ops.reshape(shift_rotate(flat, degrees, shifts), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift,
                "max_degrees": self.max_degrees, "seed": self.seed}


def augment_episodes(dataset, max_shift: float = 2.0, max_degrees: float = 10.0,
                     seed: int = 0, keys: tuple[str, ...] = IMAGE_KEYS):
    """`dataset` (elements `(inputs dict, query_y)`) with every image of the inputs `keys`
    (`support_x` and `query_x`) shifted and rotated at random; labels and masks unchanged. Use
    on training data only.

    The draws are stateless, keyed by `seed` and the element's position, so one seed gives the
    same augmented stream every run.
    """
    import tensorflow as tf

    max_shift, max_degrees = _check(max_shift, max_degrees)
    keys = tuple(keys)
    if not keys or not set(keys) <= set(IMAGE_KEYS):
        raise invalid_value("keys", keys, f"some of {IMAGE_KEYS}")

    def augment(index, element):
        inputs, targets = element
        inputs = dict(inputs)
        for n, key in enumerate(k for k in keys if k in inputs):
            images = inputs[key]
            flat = tf.reshape(images, (-1, *images.shape[-3:]))
            key_seed = tf.stack([tf.cast(seed, tf.int64), index * len(keys) + n])

            def uniform(size, low, high, key_seed=key_seed):
                key_seed = tf.random.experimental.stateless_fold_in(key_seed, len(size))
                return tf.random.stateless_uniform(size, key_seed, low, high)

            degrees, shifts = _draw(tf.shape(flat)[0], max_shift, max_degrees, uniform)
            inputs[key] = tf.reshape(shift_rotate(flat, degrees, shifts), tf.shape(images))
        return inputs, targets

    return dataset.enumerate().map(lambda i, e: augment(i, e),
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
