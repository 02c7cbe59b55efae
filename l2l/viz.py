"""Pictures: an episode grid and a learning curve, drawn with matplotlib.

Scripts draw with the Agg backend (no display needed); in a notebook, the inline backend is
kept, so the figures these functions return are drawn in the notebook.

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

if "inline" not in matplotlib.get_backend():  # keep a notebook's inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from l2l.episodes import Episode  # noqa: E402


def plot_episodes(episodes: Episode, predictions: np.ndarray | None = None, rows: int = 4,
                  title: str | None = None, max_queries: int | None = None):
    """A grid with one episode per row: its support images, then its queries.

    Binary episodes (two-digit "same number?"): each query is captioned with its truth
    ("same"/"diff") and, when `predictions` (logits `[B, Q]`) are given, the model's
    probability of "same". Classification episodes (integer labels, logits `[B, Q, ways]`):
    support images are captioned with their class index, queries with their true class and,
    with predictions, the predicted class and its probability. Wrong answers are red.
    `max_queries` shows only the first queries of each episode.
    """
    rows = min(rows, episodes.batch_size)
    queries = episodes.query_size if max_queries is None else min(max_queries,
                                                                  episodes.query_size)
    classes = np.issubdtype(np.asarray(episodes.query_y).dtype, np.integer) or (
        predictions is not None and np.ndim(predictions) == 3 and np.shape(predictions)[-1] > 1)
    shots = int(episodes.support_mask[:rows].sum(axis=1).max())
    cols = shots + queries
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 0.95 * rows + 0.5), squeeze=False)
    for r in range(rows):
        real = np.flatnonzero(episodes.support_mask[r] > 0)
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < shots:
                if c < len(real):
                    ax.imshow(np.squeeze(episodes.support_x[r, real[c]]), cmap="gray_r")
                    caption = (f"class {int(episodes.support_y[r, real[c]])}" if classes
                               else "support")
                    ax.set_title(caption, fontsize=7)
                else:
                    ax.axis("off")
                continue
            q = c - shots
            ax.imshow(np.squeeze(episodes.query_x[r, q]), cmap="gray_r")
            truth = episodes.query_y[r, q]
            if classes:
                caption, color = f"true {int(truth)}", "black"
                if predictions is not None:
                    logits = np.asarray(predictions[r, q], "float64")
                    p = np.exp(logits - logits.max())
                    guess = int(p.argmax())
                    caption += f"\nsaid {guess} ({p[guess] / p.sum():.2f})"
                    color = "black" if guess == int(truth) else "red"
            else:
                truth = np.squeeze(truth) > 0.5
                caption, color = ("same" if truth else "diff"), "black"
                if predictions is not None:
                    p = 1.0 / (1.0 + np.exp(-np.squeeze(predictions[r, q])))
                    caption += f"  p={p:.2f}"
                    color = "black" if (p > 0.5) == truth else "red"
            ax.set_title(caption, fontsize=7, color=color)
    if title:
        fig.suptitle(title, fontsize=9, wrap=True)
    fig.tight_layout()
    return fig


def figure_to_array(fig, close: bool = True) -> np.ndarray:
    """The RGB pixels `[H, W, 3]` uint8 of a matplotlib figure (for TensorBoard images).

    >>> fig = plot_learning_curve({"loss": [0.7, 0.4]})
    >>> figure_to_array(fig).shape[-1]
    3
    """
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    if close:
        plt.close(fig)
    return pixels


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
