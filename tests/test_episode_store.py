import dataclasses
import json

import h5py
import numpy as np
import pytest

import l2l
from l2l.datasets import CorruptDataError
from l2l.episode_store import (
    FIELDS,
    FORMAT_VERSION,
    EpisodeSetInfo,
    StaleEpisodeSetError,
    episode_set,
    read_episode_set,
    save_episode_set,
)
from l2l.tasks import SinusoidTask, TwoDigitTask
from l2l.tasks.base import TaskDistribution


@pytest.fixture
def sinusoid():
    return SinusoidTask(shots=(2, 5), queries=7, noise=0.1)


def _assert_identical(a, b):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name


def test_round_trip_is_bit_exact_float_and_ragged(tmp_path, sinusoid):
    path = tmp_path / "sin.h5"
    written = episode_set(path, sinusoid, num_episodes=300, seed=3, split="test")
    _assert_identical(written, sinusoid.fixed_episodes(300, seed=3))
    assert written.support_mask.min() == 0.0  # ragged shots really were stored
    _assert_identical(episode_set(path, sinusoid, num_episodes=300, seed=3, split="test"),
                      written)


def test_round_trip_is_bit_exact_for_uint8_images(tmp_path, digits):
    task = TwoDigitTask(*digits, split="test", protocol="strict", shots=(1, 3), queries=4)
    path = tmp_path / "two_digit.h5"
    written = episode_set(path, task, num_episodes=40, seed=0, split="test")
    read, _ = read_episode_set(path)
    assert read.support_x.dtype == np.uint8
    _assert_identical(read, written)


def test_file_documents_what_it_holds(tmp_path, sinusoid):
    path = tmp_path / "sin.h5"
    episode_set(path, sinusoid, num_episodes=10, seed=5, split="val")
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
        assert sorted(f.keys()) == sorted(FIELDS)
    assert attrs["format_version"] == FORMAT_VERSION
    assert attrs["task_family"] == "l2l.tasks.sinusoid.SinusoidTask"
    assert json.loads(attrs["task_config"]) == json.loads(json.dumps(sinusoid.config()))
    assert (attrs["split"], attrs["seed"], attrs["num_episodes"]) == ("val", 5, 10)
    assert attrs["library_version"] == l2l.__version__
    assert len(attrs["config_fingerprint"]) == len(attrs["content_fingerprint"]) == 64


@pytest.mark.parametrize("change, message", [
    (dict(seed=4), "seed: stored 3, asked for 4"),
    (dict(split="val"), "split: stored 'test', asked for 'val'"),
    (dict(num_episodes=20), "num_episodes: stored 30, asked for 20"),
    (dict(task=SinusoidTask(shots=(2, 5), queries=7, noise=0.2)),
     "noise stored 0.1, asked for 0.2"),
    (dict(task=SinusoidTask(shots=(2, 5), queries=8, noise=0.1)),
     "queries stored 7, asked for 8"),
])
def test_mismatched_set_is_refused_then_regenerated_on_request(tmp_path, sinusoid, change,
                                                               message):
    path = tmp_path / "sin.h5"
    asked = dict(task=sinusoid, num_episodes=30, seed=3, split="test") | change
    episode_set(path, sinusoid, num_episodes=30, seed=3, split="test")
    with pytest.raises(StaleEpisodeSetError, match="not the episode set asked for") as error:
        episode_set(path, **asked)
    assert message in str(error.value)
    regenerated = episode_set(path, **asked, regenerate=True)
    _assert_identical(regenerated, asked["task"].fixed_episodes(asked["num_episodes"],
                                                                asked["seed"]))
    _assert_identical(episode_set(path, **asked), regenerated)  # and is now accepted


def test_other_task_family_is_refused(tmp_path, sinusoid):
    class Shifted(SinusoidTask):
        pass

    path = tmp_path / "sin.h5"
    episode_set(path, sinusoid, num_episodes=10, seed=0, split="test")
    with pytest.raises(StaleEpisodeSetError, match="task_family"):
        episode_set(path, Shifted(shots=(2, 5), queries=7, noise=0.1), 10, 0, "test")


def test_other_library_or_format_version_is_refused(tmp_path, sinusoid):
    path = tmp_path / "sin.h5"
    info = EpisodeSetInfo.of(sinusoid, 10, 0, "test")
    episodes = sinusoid.fixed_episodes(10, 0)
    save_episode_set(path, episodes, dataclasses.replace(info, library_version="0.0.1"))
    with pytest.raises(StaleEpisodeSetError, match="library_version: stored '0.0.1'"):
        episode_set(path, sinusoid, 10, 0, "test")
    save_episode_set(path, episodes, dataclasses.replace(info, format_version=99))
    with pytest.raises(StaleEpisodeSetError, match="format version 99"):
        episode_set(path, sinusoid, 10, 0, "test")


def test_modified_content_is_detected(tmp_path, sinusoid):
    path = tmp_path / "sin.h5"
    episode_set(path, sinusoid, num_episodes=10, seed=0, split="test")
    with h5py.File(path, "r+") as f:
        f["query_y"][3, 2, 0] += 1.0
    with pytest.raises(StaleEpisodeSetError, match="modified after it was written"):
        episode_set(path, sinusoid, 10, 0, "test")


def test_changed_source_data_is_detected_by_regenerating_a_batch(tmp_path, digits):
    images, labels = digits
    path = tmp_path / "two_digit.h5"
    episode_set(path, TwoDigitTask(images, labels, split="test"), 20, 0, "test")
    other_images = 255 - images  # same configuration, other pictures
    with pytest.raises(StaleEpisodeSetError, match="source data"):
        episode_set(path, TwoDigitTask(other_images, labels, split="test"), 20, 0, "test")


def test_split_contradicting_the_task_is_an_error(tmp_path, digits):
    with pytest.raises(ValueError, match="contradicts the task"):
        episode_set(tmp_path / "x.h5", TwoDigitTask(*digits, split="val"), 10, 0, "test")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "foreign_hdf5",
                                    "missing_dataset"])
def test_corrupt_file_is_a_clear_error(tmp_path, sinusoid, damage):
    path = tmp_path / "sin.h5"
    episode_set(path, sinusoid, num_episodes=300, seed=0, split="test")
    if damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an hdf5 file at all" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign_hdf5":
        with h5py.File(path, "w") as f:
            f["x"] = np.zeros(3)
    else:
        with h5py.File(path, "r+") as f:
            del f["support_mask"]
    with pytest.raises(CorruptDataError, match=str(path)):
        episode_set(path, sinusoid, 300, 0, "test")
    fresh = episode_set(path, sinusoid, 300, 0, "test", regenerate=True)
    _assert_identical(fresh, sinusoid.fixed_episodes(300, 0))


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, sinusoid, monkeypatch):
    path = tmp_path / "sin.h5"
    old = episode_set(path, sinusoid, num_episodes=10, seed=0, split="test")

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        episode_set(path, sinusoid, 10, 1, "test", regenerate=True)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["sin.h5"]
    _assert_identical(episode_set(path, sinusoid, 10, 0, "test"), old)


def test_default_config_collects_public_settings():
    class Toy(TaskDistribution):
        def __init__(self):
            self.shots, self.name, self.range = 3, "toy", (0.0, 1.0)
            self.classes = np.arange(4)
            self._cache = np.zeros(10**6)
            self.callback = print

        def sample(self, batch_size, rng):
            raise NotImplementedError

    config = Toy().config()
    assert sorted(config) == ["classes", "name", "range", "shots"]
    assert config["classes"]["shape"] == [4] and len(config["classes"]["sha256"]) == 64
    assert config["range"] == [0.0, 1.0]
