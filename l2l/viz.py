"""Pictures: an episode grid and a learning curve, drawn with matplotlib (Agg, no display).

Example:

>>> import numpy as np
>>> from l2l.viz import plot_learning_curve
>>> fig = plot_learning_curve({"loss": [0.7, 0.4], "val_binary_accuracy": [0.6, 0.8]})
>>> len(fig.axes)
2
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from l2l.episodes import Episode  # noqa: E402


def plot_episodes(episodes: Episode, predictions: np.ndarray | None = None, rows: int = 4,
                  title: str | None = None):
    """A grid with one episode per row: its support images, then its queries.

    Each query is captioned with its truth ("same"/"diff") and, when `predictions` (logits
    `[B, Q]`) are given, the model's probability of "same", in red when the model is wrong.
    """
    rows = min(rows, episodes.batch_size)
    shots = int(episodes.support_mask[:rows].sum(axis=1).max())
    cols = shots + episodes.query_size
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 0.95 * rows + 0.5), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < shots:
                if episodes.support_mask[r, c] > 0:
                    ax.imshow(np.squeeze(episodes.support_x[r, c]), cmap="gray_r")
                    ax.set_title("support", fontsize=7)
                else:
                    ax.axis("off")
                continue
            q = c - shots
            ax.imshow(np.squeeze(episodes.query_x[r, q]), cmap="gray_r")
            truth = episodes.query_y[r, q] > 0.5
            caption, color = ("same" if truth else "diff"), "black"
            if predictions is not None:
                p = 1.0 / (1.0 + np.exp(-predictions[r, q]))
                caption += f"  p={p:.2f}"
                color = "black" if (p > 0.5) == truth else "red"
            ax.set_title(caption, fontsize=7, color=color)
    if title:
        fig.suptitle(title, fontsize=9, wrap=True)
    fig.tight_layout()
    return fig


def plot_learning_curve(history: dict, title: str | None = None):
    """Loss (left) and accuracy (right) per epoch from a Keras `History.history` dict."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, values in history.items():
        ax = right if "accuracy" in key else left if "loss" in key else None
        if ax is not None:
            ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=key)
    left.set_ylabel("loss")
    right.set_ylabel("accuracy")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9, wrap=True)
    fig.tight_layout()
    return fig


def save(fig, path: str | os.PathLike) -> str:
    """Write `fig` to `path` atomically (creating folders) and close it; returns the path."""
    from l2l.training.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return os.fspath(path)
