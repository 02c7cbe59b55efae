"""Label-preserving jitter of digit images: small random shifts and rotations, never flips.

`shift_rotate(images, rng, max_shift, max_degrees)` moves each `[H, W]` image by a random
sub-pixel offset of at most `max_shift` pixels per axis and turns it about its centre by at
most `max_degrees`, with bilinear sampling and zero fill (MNIST's background). A mirrored 2 or
5 is no longer the same digit, so nothing here flips. It runs in NumPy on the episode
generator's side (`TwoDigitTask(augment=...)`), since Keras's random image layers do not
compile under XLA on the TensorFlow backend. Each image gets its own draw from `rng`, so a
seeded generator gives the same jitter every time.

Example:

>>> import numpy as np
>>> from l2l.tasks.augment import shift_rotate
>>> digits = np.zeros((2, 28, 28), np.uint8); digits[:, 10:18, 12:16] = 255
>>> out = shift_rotate(digits, np.random.default_rng(0), max_shift=2, max_degrees=10)
>>> out.shape, out.dtype, bool((out != digits).any())
((2, 28, 28), dtype('uint8'), True)
"""

from __future__ import annotations

import numpy as np

from l2l.errors import invalid_value


def check_augment(augment) -> tuple[float, float] | None:
    """`augment` as `(max_shift_pixels, max_degrees)`, or None for no jitter; bad values raise."""
    if augment is None:
        return None
    try:
        shift, degrees = (float(a) for a in augment)
    except (TypeError, ValueError):
        raise invalid_value("augment", augment, "a pair (max shift in pixels, max rotation in "
                            "degrees), e.g. (2, 10), or None") from None
    if not (0 <= shift <= 8 and 0 <= degrees <= 45):
        raise invalid_value("augment", augment, "a shift of 0-8 pixels and a rotation of 0-45 "
                            "degrees: larger jitter no longer keeps a digit's label")
    return (shift, degrees) if shift or degrees else None


def shift_rotate(images: np.ndarray, rng: np.random.Generator, max_shift: float = 2.0,
                 max_degrees: float = 10.0) -> np.ndarray:
    """Each image of `images` (`[..., H, W]`, any dtype) shifted and rotated at random.

    Offsets are uniform in `[-max_shift, max_shift]` pixels per axis and angles uniform in
    `[-max_degrees, max_degrees]`; pixels that come from outside the image are 0. The result
    has the shape and dtype of `images` (integers are rounded).
    """
    images = np.asarray(images)
    *lead, height, width = images.shape
    flat = images.reshape(-1, height, width).astype(np.float32)
    n = len(flat)
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees, n)).astype(np.float32)
    dy, dx = rng.uniform(-max_shift, max_shift, (2, n)).astype(np.float32)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    y, x = np.meshgrid(np.arange(height, dtype=np.float32) - cy,
                       np.arange(width, dtype=np.float32) - cx, indexing="ij")
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    # The output pixel (y, x) reads the input at the inverse transform of its position.
    ys = cos * (y - dy[:, None, None]) - sin * (x - dx[:, None, None]) + cy
    xs = sin * (y - dy[:, None, None]) + cos * (x - dx[:, None, None]) + cx
    padded = np.pad(flat, ((0, 0), (1, 1), (1, 1)))  # zero border: outside reads 0
    ys = np.clip(ys + 1, 0, height + 1)
    xs = np.clip(xs + 1, 0, width + 1)
    y0, x0 = np.floor(ys).astype(np.int32), np.floor(xs).astype(np.int32)
    wy, wx = ys - y0, xs - x0
    row = width + 2
    top = (np.arange(n, dtype=np.int32) * ((height + 2) * row))[:, None, None] + y0 * row + x0
    bottom = np.where(y0 <= height, top + row, top)  # the last padded row has none below
    right = (x0 <= width).astype(np.int32)  # nor the last padded column a right neighbour
    pixels = padded.ravel()
    out = ((1 - wy) * ((1 - wx) * pixels.take(top) + wx * pixels.take(top + right))
           + wy * ((1 - wx) * pixels.take(bottom) + wx * pixels.take(bottom + right)))
    if np.issubdtype(images.dtype, np.integer):
        info = np.iinfo(images.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(images.dtype).reshape(*lead, height, width)
