"""Pixel-space classifiers to set beside recognition as reconstruction: k-NN and a small CNN.

Both read an image either whole or as only the pixels an episode shows (a `[N, P]` 0/1 mask,
`shown_masks`), so they can be compared with `l2l.systems.reconstruction` on the same
information: the reconstruction models see `shots` pixels of each held-out image.

- `nearest_neighbours(train, labels, queries, k, masks)`: a majority vote of the `k` training
  images nearest to each query, the squared distance summed over the pixels the query shows.
- `choose_k(train, labels, candidates, shots)`: `k` by leave-one-out accuracy on the training
  images alone (each left-out image shown as `shots` random pixels, as test images are), so the
  test images play no part in choosing it.
- `small_cnn(classes, channels)` and `train_cnn(...)`: a small convolutional classifier trained
  from scratch, on whole images or on random `shots`-pixel views of them (input channels: the
  shown intensities and the mask), with random shifts as augmentation.

Example (two well-separated classes of 4-pixel "images"):

>>> import numpy as np
>>> from l2l.systems.pixel_baselines import choose_k, nearest_neighbours
>>> train = np.array([[0, 0, 0, 0], [0, 0.1, 0, 0], [1, 1, 1, 1], [1, 0.9, 1, 1.0]])
>>> labels = np.array([3, 3, 7, 7])
>>> nearest_neighbours(train, labels, np.array([[0.1, 0, 0, 0], [1, 1, 0.8, 1]]), k=1).tolist()
[3, 7]
>>> masks = np.array([[1, 0, 0, 0], [0, 0, 0, 1]])  # each query shows one pixel
>>> nearest_neighbours(train, labels, np.array([[0.9, 0, 0, 0], [0, 0, 0, 0.1]]), k=1,
...                    masks=masks).tolist()
[7, 3]
>>> choose_k(train, labels, candidates=(1, 3), shots=2, seed=0)[0]
1
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from l2l.errors import invalid_value
from l2l.networks import conv_encoder
from l2l.tasks.base import random_subsets


def shown_masks(index: np.ndarray, num_pixels: int) -> np.ndarray:
    """`[N, num_pixels]` float32 masks, 1 at the raster indices `index [N, shots]`.

    >>> shown_masks(np.array([[0, 2]]), 4).tolist()
    [[1.0, 0.0, 1.0, 0.0]]
    """
    index = np.asarray(index)
    masks = np.zeros((len(index), num_pixels), "float32")
    np.put_along_axis(masks, index, 1.0, axis=1)
    return masks


def random_masks(rng: np.random.Generator, n: int, num_pixels: int, shots: int) -> np.ndarray:
    """`[n, num_pixels]` masks each showing `shots` uniformly random pixels."""
    if not 1 <= shots <= num_pixels:
        raise invalid_value("shots", shots, f"an integer in 1..{num_pixels} (pixels per image)")
    return shown_masks(random_subsets(rng.random((n, num_pixels)), shots), num_pixels)


def squared_distances(queries: np.ndarray, train: np.ndarray,
                      masks: np.ndarray | None = None) -> np.ndarray:
    """`[Q, N]`: `sum_p mask[q, p] * (queries[q, p] - train[n, p]) ** 2` (all pixels if
    `masks` is None), as three matrix products."""
    queries, train = np.asarray(queries, "float64"), np.asarray(train, "float64")
    masks = np.ones_like(queries) if masks is None else np.asarray(masks, "float64")
    return ((masks * queries**2).sum(1)[:, None] - 2.0 * (masks * queries) @ train.T
            + masks @ (train**2).T)


def vote(neighbour_labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """`[Q]`: the most frequent of each row's labels (nearest first); a tie goes to the tied
    class with the nearer neighbour.

    >>> vote(np.array([[7, 3, 3], [7, 3, 1]]), np.array([1, 3, 7])).tolist()
    [3, 7]
    """
    k = neighbour_labels.shape[1]
    hits = neighbour_labels[:, :, None] == classes[None, None, :]  # [Q, k, C]
    first = np.where(hits.any(1), hits.argmax(1), k)  # rank of each class's nearest neighbour
    return classes[np.argmax(hits.sum(1) * (k + 1) - first, axis=1)]


def nearest_neighbours(train: np.ndarray, labels: np.ndarray, queries: np.ndarray, k: int,
                       masks: np.ndarray | None = None, exclude: np.ndarray | None = None
                       ) -> np.ndarray:
    """`[Q]` labels: a vote of the `k` training images (`[N, P]`, labels `[N]`) nearest to each
    query `[Q, P]`, over the pixels its mask shows (all without `masks`). `exclude [Q]` names a
    training row each query may not use (itself, for leave-one-out)."""
    train, labels = np.asarray(train), np.asarray(labels)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= len(train):
        raise invalid_value("k", k, f"an integer in 1..{len(train)} (the training images)")
    predictions = []
    for start in range(0, len(queries), 500):  # [500, N] distances at a time
        part = slice(start, start + 500)
        d = squared_distances(queries[part], train, None if masks is None else masks[part])
        if exclude is not None:
            d[np.arange(len(d)), exclude[part]] = np.inf
        nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, nearest, 1).argsort(1, kind="stable")
        predictions.append(vote(labels[np.take_along_axis(nearest, order, 1)],
                                np.unique(labels)))
    return np.concatenate(predictions)


def choose_k(train: np.ndarray, labels: np.ndarray, candidates: Sequence[int] = (1, 3, 5, 7, 9),
             shots: int | None = None, queries: int = 1000, seed: int = 0
             ) -> tuple[int, dict[int, float]]:
    """`(k, {k: accuracy})`: the candidate `k` with the best leave-one-out accuracy on (at most
    `queries` of) the training images, the smallest on a tie. With `shots`, each left-out
    image is shown as `shots` random pixels, as `nearest_neighbours` will see test images."""
    train, labels = np.asarray(train), np.asarray(labels)
    rng = np.random.default_rng(seed)
    left_out = np.sort(rng.permutation(len(train))[:queries])
    masks = None if shots is None else random_masks(rng, len(left_out), train.shape[1], shots)
    accuracy = {int(k): float((nearest_neighbours(
        train, labels, train[left_out], int(k), masks, exclude=left_out)
        == labels[left_out]).mean()) for k in candidates if k < len(train)}
    if not accuracy:
        raise invalid_value("candidates", tuple(candidates),
                            f"at least one k below the {len(train)} training images")
    best = max(accuracy.values())
    return min(k for k, a in accuracy.items() if a == best), accuracy


def small_cnn(classes: int, image_shape: tuple[int, int] = (28, 28), channels: int = 1,
              shift: int = 2) -> keras.Sequential:
    """Random shifts of up to `shift` pixels (training only), `conv_encoder` with two blocks
    (3x3 conv of 16 then 32 filters, batch norm, ReLU, 2x2 max pooling), a 64-unit ReLU layer
    and `classes` logits. Inputs `[H, W, channels]` floats in [0, 1].

    >>> tuple(small_cnn(3)(np.zeros((2, 28, 28, 1))).shape)
    (2, 3)
    """
    height, width = image_shape
    return keras.Sequential([
        keras.Input((height, width, channels)),
        keras.layers.RandomTranslation(shift / height, shift / width, fill_mode="constant"),
        conv_encoder(filters=(16, 32), units=64, input_scale=1.0),
        keras.layers.Dense(classes),
    ])


def cnn_inputs(images: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    """`[N, H, W, 1]` images in [0, 1], or with `masks [N, H * W]`, `[N, H, W, 2]`: the shown
    intensities (0 elsewhere) and the mask."""
    images = np.asarray(images, "float32")
    if masks is None:
        return images[..., None]
    masks = np.asarray(masks, "float32").reshape(images.shape)
    return np.stack([images * masks, masks], axis=-1)


def train_cnn(images: np.ndarray, labels: np.ndarray, steps: int = 1000, batch_size: int = 32,
              shots: int | None = None, learning_rate: float = 1e-3, seed: int = 0
              ) -> keras.Sequential:
    """`small_cnn` trained from scratch by Adam for `steps` updates of `batch_size` images
    `[N, H, W]` (in [0, 1]) drawn at random; labels are class indices `0..C-1`. With `shots`,
    every image of every batch is shown as a fresh random `shots`-pixel view
    (`cnn_inputs(images, masks)`), so the net learns to read such views."""
    images, labels = np.asarray(images, "float32"), np.asarray(labels)
    keras.utils.set_random_seed(seed)
    model = small_cnn(int(labels.max()) + 1, images.shape[1:3], 1 if shots is None else 2)
    model.compile(keras.optimizers.Adam(learning_rate),  # no XLA: it compiles longer than
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # it saves
                  jit_compile=False)
    rng = np.random.default_rng(seed)
    pixels = images.shape[1] * images.shape[2]

    def batches():
        while True:
            rows = rng.integers(len(images), size=batch_size)
            masks = None if shots is None else random_masks(rng, batch_size, pixels, shots)
            yield cnn_inputs(images[rows], masks), labels[rows]

    model.fit(batches(), steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return model
