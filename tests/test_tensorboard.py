"""TensorBoard logging: a short run writes scalars and episode images that read back."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from benchmarks.common import progress, tensorboard_logs, train_and_evaluate
from l2l.tasks import TwoDigitTask


def event_tags(folder: Path) -> dict[str, dict[str, int]]:
    """`{run: {tag: values}}` of the TensorBoard event files under `folder`, read back with
    TensorFlow's own reader; run is the subfolder (`train`, `validation`, `episodes`)."""
    import tensorflow as tf

    tags: dict[str, dict[str, int]] = {}
    for path in folder.rglob("events.out.tfevents.*"):
        run = tags.setdefault(path.parent.name, {})
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                run[value.tag] = run.get(value.tag, 0) + 1
    return tags


def image_shape(folder: Path, tag: str = "episodes") -> tuple[int, ...]:
    """Height, width and channels of the last image `tag` logged under `folder`."""
    import tensorflow as tf

    shape = ()
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    encoded = tf.make_ndarray(value.tensor)[2]  # width, height, PNG bytes...
                    shape = tuple(tf.io.decode_png(encoded).shape)
    return shape


def test_a_benchmark_cell_logs_scalars_and_episode_images(digits, tmp_path):
    from l2l.presets import two_digit_model

    images, labels = digits
    train = TwoDigitTask(images, labels, split="train", protocol="original", queries=4)
    validation = TwoDigitTask(images, labels, split="val", protocol="original"
                              ).fixed_episodes(8, seed=0)
    keras.utils.set_random_seed(0)
    with tensorboard_logs(tmp_path):
        progress.cell("features, original 1-shot")
        out = train_and_evaluate(two_digit_model("features"), train.dataset(4, seed=0),
                                 validation, minutes=10, steps_per_epoch=2, max_epochs=2,
                                 validation=validation)
    assert out["epochs"] == 2
    run = tmp_path / "01-features_original_1-shot"
    tags = event_tags(run)
    assert tags["train"]["epoch_loss"] == 2 and tags["train"]["epoch_accuracy"] == 2
    assert tags["validation"]["epoch_loss"] == 2
    assert tags["episodes"] == {"episodes": 2}
    height, width, channels = image_shape(run)
    assert channels == 3 and height > 100 and width > 100


def test_missing_tensorboard_is_a_clear_error_before_training(monkeypatch, tmp_path):
    import importlib.util

    from l2l import tensorboard

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(tensorboard.TensorBoardNotInstalledError, match="pip install tensorboard"):
        tensorboard.tensorboard_callbacks(tmp_path)


def test_episode_images_refuse_episodes_without_images(tmp_path):
    from l2l.tasks import SinusoidTask
    from l2l.tensorboard import EpisodeImages

    with pytest.raises(ValueError, match="image episodes"):
        EpisodeImages(tmp_path, SinusoidTask().fixed_episodes(2, seed=0))
