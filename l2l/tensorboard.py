"""TensorBoard logging for `fit`: Keras's scalars plus a few episodes drawn as images.

`tensorboard_callbacks(log_dir, episodes)` returns the callbacks to pass to `fit`:

- `keras.callbacks.TensorBoard(log_dir)`: loss and metrics per epoch (`train/`,
  `validation/`);
- `EpisodeImages(log_dir, episodes)`: every epoch, the first episodes with the model's current
  answers drawn by `l2l.viz.plot_episodes` (`episodes/`, tab "Images"), when the episodes hold
  images (regression episodes have none to draw).

Open the logs with `tensorboard --logdir DIR` (`pip install tensorboard`, or
`pip install -e ".[tensorboard]"`), then http://localhost:6006.

Example:

>>> import tempfile
>>> from l2l.tasks import SinusoidTask
>>> callbacks = tensorboard_callbacks(tempfile.mkdtemp(), SinusoidTask().fixed_episodes(4, 0))
>>> [type(c).__name__ for c in callbacks]  # sinusoid episodes have no images to draw
['TensorBoard']
"""

from __future__ import annotations

import importlib.util
import os

import keras

from l2l.episodes import Episode
from l2l.errors import L2LError, invalid_value


class TensorBoardNotInstalledError(L2LError, ImportError):
    """TensorFlow writes summaries only with the `tensorboard` package installed."""


def has_images(episodes: Episode) -> bool:
    """Whether the episodes' examples are images (`[B, n, H, W]` or `[B, n, H, W, C]`)."""
    return episodes.query_x.ndim in (4, 5)


class EpisodeImages(keras.callbacks.Callback):
    """Writes `rows` episodes with the model's answers as a TensorBoard image every epoch.

    Args:
        log_dir: the run's log folder; images go to `log_dir/episodes`.
        episodes: image episodes (the first `rows` are drawn; validation ones are a good choice).
        rows: episodes drawn per image.
        every: draw every `every` epochs (and after the first).
        max_queries: queries drawn per episode.
    """

    def __init__(self, log_dir: str | os.PathLike, episodes: Episode, rows: int = 4,
                 every: int = 1, max_queries: int = 6):
        super().__init__()
        if not has_images(episodes):
            raise invalid_value("episodes", episodes, "image episodes (query_x [B, Q, H, W] or "
                                "[B, Q, H, W, C])", "log vector tasks' scalars only")
        self.log_dir = os.fspath(log_dir)
        self.episodes = episodes[:rows]
        self.rows, self.every, self.max_queries = rows, max(int(every), 1), max_queries
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every:
            return
        import tensorflow as tf

        from l2l.viz import figure_to_array, plot_episodes

        predictions = self.model.predict(self.episodes.inputs(), verbose=0)
        fig = plot_episodes(self.episodes, predictions, rows=self.rows,
                            max_queries=self.max_queries, title=f"epoch {epoch + 1}")
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "episodes"))
        with self._writer.as_default():
            tf.summary.image("episodes", figure_to_array(fig)[None], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def tensorboard_callbacks(log_dir: str | os.PathLike, episodes: Episode | None = None,
                          **image_options) -> list[keras.callbacks.Callback]:
    """Keras's `TensorBoard` callback on `log_dir`, plus `EpisodeImages` of `episodes` when
    they hold images (`image_options` go to it).

    Raises `TensorBoardNotInstalledError` when the `tensorboard` package is missing (TensorFlow
    needs it to write summaries), before any training starts.
    """
    if importlib.util.find_spec("tensorboard") is None:
        raise TensorBoardNotInstalledError(
            "TensorBoard logging needs the `tensorboard` package, which is not installed. "
            "Fix: `pip install tensorboard` (or `pip install -e \".[tensorboard]\"`), or run "
            "without the TensorBoard option.")
    callbacks = [keras.callbacks.TensorBoard(log_dir=os.fspath(log_dir))]
    if episodes is not None and has_images(episodes):
        callbacks.append(EpisodeImages(log_dir, episodes, **image_options))
    return callbacks
