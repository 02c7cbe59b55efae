"""Shared fixtures: synthetic digit images (no data needed) and the real MNIST when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The test files that keep one xdist worker busy longest (over 20 s each, `pytest
# --durations=80` on a 2-core machine), longest first. They are handed out first
# (`--no-loadscope-reorder` in pyproject.toml keeps this order; xdist's own puts files with
# the most tests first, which left these single long files for the end, one worker running
# them while the other idled), so the workers end together on short files.
LONGEST_FIRST = ("test_docs.py", "test_benchmarks.py", "test_distribute.py",
                 "test_benchmark_omniglot_gradient.py", "test_algorithms_training.py",
                 "test_notebooks.py", "test_example.py", "test_algorithms_images.py",
                 "test_benchmark_sinusoid.py", "test_models.py", "test_online.py",
                 "test_scaling_docs.py",
                 "test_benchmark_reconstruction_transfer.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: rest as collected


def synthetic_digits(per_digit: int = 60, noise: float = 40.0, seed: int = 0):
    """`[10 * per_digit, 28, 28]` uint8 images: one random stroke template per digit + noise.

    Easy enough that a tiny model learns the two-digit task in seconds, hard enough that it
    has to read both halves of the image.
    """
    rng = np.random.default_rng(seed)
    templates = (rng.random((10, 7, 7)) > 0.5).astype("float32") * 255.0
    templates = templates.repeat(4, axis=1).repeat(4, axis=2)
    labels = np.repeat(np.arange(10), per_digit)
    images = templates[labels] + rng.normal(0.0, noise, size=(len(labels), 28, 28))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def digits():
    return synthetic_digits()


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the real MNIST files, or skip."""
    for candidate in (os.environ.get("L2L_DATA_DIR"), SHARED_DATA):
        if candidate and (Path(candidate) / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
            return str(candidate)
    pytest.skip("real MNIST files not found (set L2L_DATA_DIR)")


@pytest.fixture(scope="session")
def omniglot_dir():
    """The folder holding the real Omniglot images_background_small1.zip, or skip."""
    for candidate in (os.environ.get("L2L_DATA_DIR"), SHARED_DATA):
        if candidate and (Path(candidate) / "omniglot" / "images_background_small1.zip").exists():
            return str(Path(candidate) / "omniglot")
    pytest.skip("real Omniglot zips not found (set L2L_DATA_DIR)")
