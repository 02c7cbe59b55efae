"""Recognition as reconstruction: each task is ONE image, and its pixels are the examples.

An image of `H x W` pixels is a small regression dataset: the input is a pixel's position,
`x = (row, col)` scaled to [-1, 1] (row -1 is the top, col -1 the left edge), and the target
its intensity `y` in [0, 1] (`[C]` values for `C` channels). The support set is `shots` random
pixels of one image; the queries are either every pixel of it (`queries="all"`, in raster
order, so predictions reshape straight back into an image with `as_images`) or `queries`
random pixels that are not in the support set. A meta-model trained on many images of some
classes learns to reconstruct an image from a few pixels; comparing how well meta-models of
different classes reconstruct an image is then a way to recognise it.

For that use the task exposes, beside each episode, the image it was made from:
`sample_with_info` (and `episodes(..., with_info=True)`, `fixed_episodes(..., with_info=True)`)
return `info["image_index"] [B]` (the row of `images`) and, when `labels` were given,
`info["labels"] [B]` (the image's class). `classes=` restricts episodes to images of those
classes, `indices=` to given rows (e.g. a held-out image pool).

Example:

>>> import numpy as np
>>> from l2l.tasks import ImageAsDataset
>>> images = np.random.default_rng(0).integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
>>> labels = np.arange(20) % 10
>>> task = ImageAsDataset(images, labels, shots=100, classes=[3, 7])
>>> ep, info = task.episodes(batch_size=4, seed=0, with_info=True)
>>> ep.support_x.shape, ep.support_y.shape, ep.query_x.shape, ep.query_y.shape
((4, 100, 2), (4, 100, 1), (4, 784, 2), (4, 784, 1))
>>> sorted(set(info["labels"].tolist()) | {3, 7})
[3, 7]
>>> task.as_images(ep.query_y).shape
(4, 28, 28)
"""

from __future__ import annotations

import numpy as np

from l2l.episodes import Episode
from l2l.errors import InvalidValueError
from l2l.tasks.base import TaskDistribution, check_shots, random_subsets

_PAD = 2.0  # a sort key above every uniform key: marks pixels that must not be drawn


class ImageAsDataset(TaskDistribution):
    """Episodes in which one image is the dataset: pixel position in, intensity out.

    Args:
        images: `[N, H, W]` or `[N, H, W, C]` images, uint8 (scaled by 1/255) or float in
            [0, 1]; `H, W >= 2`.
        labels: optional `[N]` integer classes, returned per episode in `info["labels"]`.
        shots: support pixels per episode, `(min, max)` for ragged support sets (padded to
            `max` and masked, padding last), or `"all"` for every pixel in raster order.
        queries: `"all"` (every pixel, raster order) or the number of random query pixels,
            distinct from the support pixels.
        classes: only use images whose label is one of these (needs `labels`).
        indices: only use these rows of `images`.

    Episodes hold float32 `x [B, n, 2]` and `y [B, n, C]` (`C` = 1 for grey images).
    `coordinates [H * W, 2]` holds every pixel's `x` in raster order.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        shots: int | tuple[int, int] | str = 100,
        queries: int | str = "all",
        classes: np.ndarray | None = None,
        indices: np.ndarray | None = None,
    ):
        images = np.asarray(images)
        if images.ndim not in (3, 4) or len(images) == 0 or min(images.shape[1:3]) < 2:
            raise InvalidValueError(f"images must be [N, H, W] or [N, H, W, C] with N >= 1 and "
                             f"H, W >= 2, got shape {images.shape}.")
        self.image_shape = images.shape[1:]
        height, width = images.shape[1:3]
        self.num_pixels = height * width
        channels = images.shape[3] if images.ndim == 4 else 1
        pixels = images.reshape(len(images), self.num_pixels, channels)
        if images.dtype == np.uint8:
            scale = 1.0 / 255.0
        elif np.issubdtype(images.dtype, np.floating):
            if not np.isfinite(pixels).all():
                raise InvalidValueError(
                    "images contain NaN or infinite values; clean or drop them.")
            if pixels.min() < 0 or pixels.max() > 1:
                raise InvalidValueError(
                    f"float images must hold intensities in [0, 1], got values in "
                                 f"[{pixels.min():g}, {pixels.max():g}]; divide uint8-range "
                                 "images by 255 (or pass them as uint8).")
            scale = 1.0
        else:
            raise InvalidValueError(f"images must be uint8 or float in [0, 1], got {images.dtype}.")

        rows = np.arange(len(images)) if indices is None else np.unique(np.asarray(indices))
        if rows.size == 0 or rows.min() < 0 or rows.max() >= len(images):
            raise InvalidValueError(f"indices must be a non-empty set of rows of images "
                             f"(0..{len(images) - 1}), got {indices!r}.")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
                raise InvalidValueError(
                    f"labels must be {len(images)} integer classes (one per image), "
                                 f"got {labels.dtype} {labels.shape}.")
        if classes is not None:
            if labels is None:
                raise InvalidValueError("classes=... selects images by label: pass labels too.")
            classes = np.asarray(classes)
            if classes.size == 0:
                raise InvalidValueError(
                    "classes is empty: give the classes to draw images from, or "
                                 "None for all.")
            absent = np.setdiff1d(classes, labels[rows])
            if absent.size:
                where = "among the given indices" if indices is not None else "in labels"
                raise InvalidValueError(f"classes {absent[:10].tolist()} have no images {where}.")
            rows = rows[np.isin(labels[rows], classes)]
        self._rows, self._labels = rows, labels
        self._pixels, self._scale = pixels, scale

        if isinstance(shots, str):
            if shots != "all":
                raise InvalidValueError(f"shots must be an int, a (min, max) range or 'all', got "
                                 f"{shots!r}.")
            self.min_shots = self.max_shots = self.num_pixels
            self.all_support = True
        else:
            self.min_shots, self.max_shots = check_shots(shots)
            self.all_support = False
        if isinstance(queries, str):
            if queries != "all":
                raise InvalidValueError(f"queries must be an int or 'all', got {queries!r}.")
        elif int(queries) != queries or queries < 1:
            raise InvalidValueError(f"queries must be 'all' or an integer >= 1, got {queries!r}.")
        self.queries = queries
        drawn = self.max_shots + (0 if queries == "all" else int(queries))
        if drawn > self.num_pixels:
            raise InvalidValueError(
                f"An image has {self.num_pixels} pixels ({height}x{width}) but an episode needs "
                f"{self.max_shots} support" + ("" if queries == "all" else
                                              f" + {queries} distinct query") + " pixels; "
                "lower shots or queries (queries='all' reuses every pixel).")
        grid = np.stack(np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width),
                                    indexing="ij"), axis=-1)
        self.coordinates = grid.reshape(-1, 2).astype("float32")

    @property
    def num_images(self) -> int:
        """How many images episodes draw from."""
        return len(self._rows)

    def as_images(self, values: np.ndarray) -> np.ndarray:
        """`[B, H * W, C]` raster-order pixel values (e.g. predictions for
        `queries="all"`) -> images `[B, H, W]` (or `[B, H, W, C]` for colour images)."""
        values = np.asarray(values)
        if values.ndim < 2 or values.shape[1] != self.num_pixels:
            raise InvalidValueError(
                f"as_images needs the values of all {self.num_pixels} pixels of "
                             f"each image in raster order ([B, {self.num_pixels}, ...], as for "
                             f"queries='all'), got shape {values.shape}.")
        return values.reshape(values.shape[:1] + self.image_shape)

    def pixel_index(self, x: np.ndarray) -> np.ndarray:
        """The raster index of each pixel position `x [..., 2]` (the inverse of
        `coordinates`): e.g. which pixels an episode's support set shows.

        >>> task = ImageAsDataset(np.zeros((1, 3, 4)), shots=2)
        >>> task.pixel_index(task.coordinates[[0, 5, 11]]).tolist()
        [0, 5, 11]
        """
        x = np.asarray(x)
        if x.shape[-1:] != (2,):
            raise InvalidValueError(f"pixel_index needs positions (row, col) in the last axis "
                                    f"([..., 2]), got shape {x.shape}.")
        size = np.asarray(self.image_shape[:2])
        cell = np.rint((x + 1.0) / 2.0 * (size - 1)).astype("int64")
        if cell.min(initial=0) < 0 or (cell >= size).any():
            raise InvalidValueError(
                f"pixel_index needs positions in [-1, 1] (as in coordinates), got values in "
                f"[{x.min():g}, {x.max():g}].")
        return cell[..., 0] * size[1] + cell[..., 1]

    def sample(self, batch_size: int, rng: np.random.Generator) -> Episode:
        return self.sample_with_info(batch_size, rng)[0]

    def sample_with_info(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[Episode, dict[str, np.ndarray]]:
        """Episodes plus `info["image_index"] [B]` (the row of `images` each episode shows)
        and, when labels were given, `info["labels"] [B]`."""
        b, p, k = batch_size, self.num_pixels, self.max_shots
        image = self._rows[rng.integers(len(self._rows), size=b)]
        if self.all_support:
            picks = np.broadcast_to(np.arange(p), (b, p))
        else:
            drawn = k + (0 if self.queries == "all" else self.queries)
            picks = random_subsets(rng.random((b, p)), drawn)
        support = picks[:, :k]
        if self.queries == "all":
            query = np.broadcast_to(np.arange(p), (b, p))
        else:
            query = picks[:, k:]
        shots = rng.integers(self.min_shots, self.max_shots + 1, size=b)
        mask = (np.arange(k) < shots[:, None]).astype("float32")

        def values(pixel_index):
            return (self._pixels[image[:, None], pixel_index] * self._scale).astype("float32")

        episode = Episode(
            support_x=self.coordinates[support] * mask[..., None],
            support_y=values(support) * mask[..., None],
            query_x=self.coordinates[query],
            query_y=values(query),
            support_mask=mask,
        )
        info = {"image_index": image}
        if self._labels is not None:
            info["labels"] = self._labels[image]
        return episode, info
