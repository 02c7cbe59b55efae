"""Label-preserving jitter of digit images: small random shifts and rotations, never flips.

`shift_rotate(images, rng, max_shift, max_degrees)` moves each `[H, W]` image by a random
sub-pixel offset of at most `max_shift` pixels per axis and turns it about its centre by at
most `max_degrees`, with bilinear sampling and zero fill (MNIST's background). A mirrored 2 or
5 is no longer the same digit, so nothing here flips. It runs on the episode generator's side
(`TwoDigitTask(augment=...)`), on NumPy arrays, since Keras's random image layers do not
compile under XLA on the TensorFlow backend; the draws come from a NumPy generator and the
resampling is `l2l.augment.shift_rotate`'s, so l2l has one shift-and-rotate. Each image gets
its own draw from `rng`, so a seeded generator gives the same jitter every time.

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
    `[-max_degrees, max_degrees]`, drawn from `rng`; the resampling is `l2l.augment.
    shift_rotate` (bilinear, zero fill), the one implementation Omniglot's augmentation uses
    too. The result is a NumPy array with the shape and dtype of `images` (integers rounded).
    """
    from l2l.augment import shift_rotate as resample

    images = np.asarray(images)
    *lead, height, width = images.shape
    n = int(np.prod(lead, dtype=np.int64))
    degrees = rng.uniform(-max_degrees, max_degrees, n).astype(np.float32)
    shifts = rng.uniform(-max_shift, max_shift, (2, n)).astype(np.float32).T  # (down, right)
    # The angle is negated so a seed gives the jitter it gave before both shared one
    # resampler (the draws are symmetric, so the distribution is the same either way).
    out = resample(images.reshape(n, height, width, 1), -degrees, shifts)
    return np.asarray(out).reshape(images.shape)
