"""Where the images of a stored episode file came from: their source classes, by pixels."""

from __future__ import annotations

import h5py
import numpy as np


def source_classes(path, images, classes) -> dict:
    """The source class of every image of a stored episode file, found by its pixels:
    `{"support", "query"}` `[episodes, examples]`, with the file's `support_y`/`query_y`."""
    owner = {}
    for image, c in zip(images, classes, strict=True):
        owner.setdefault(np.ascontiguousarray(image).tobytes(), set()).add(int(c))
    assert all(len(v) == 1 for v in owner.values()), "two classes share an image"
    found = {}
    with h5py.File(path, "r") as f:
        for part in ("support", "query"):
            x = f[f"{part}_x"][()]
            found[part] = np.array([[next(iter(owner[np.ascontiguousarray(
                img.reshape(images.shape[1:]).astype(images.dtype)).tobytes()]))
                for img in episode] for episode in x])
            found[f"{part}_y"] = f[f"{part}_y"][()].astype(int)
    return found
