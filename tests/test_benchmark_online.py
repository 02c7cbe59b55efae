"""The `online` benchmark: online few-shot Omniglot scored by instance number on stored episodes."""
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import runner, schema  # noqa: E402
from l2l.episode_store import read_episode_set  # noqa: E402


def test_quick_online_scores_every_method_by_instance(omniglot_dir, tmp_path):
    episodes = tmp_path / "episodes"
    path, result = runner.run_benchmark(
        "online", quick=True, output=tmp_path, episode_dir=episodes,
        options={"minutes_per_method": 0.001, "steps_per_epoch": 1, "test_episodes": 6,
                 "ways": 3, "instances": 3, "methods": ("mann", "prototypes"),
                 "initial_strength": 10.0, "initial_gate": 0.1, "memory_slots": 16,
                 "jit_compile": False, "data_dir": str(Path(omniglot_dir).parent),
                 "save_to": str(tmp_path / "models"), "pretrain_minutes": 0.001,
                 "freeze_encoder": True})
    assert json.loads(path.read_text()) == result and schema.validate(result)
    assert result["settings"]["mann"] == {"initial_strength": 10.0, "initial_gate": 0.1,
                                          "previous_example": False, "write_values": False,
                                          "distinct_slots": False, "memory_slots": 16}
    # False, not XLA: compiling costs this test 16 s; the next test passes jit_compile=True
    assert result["settings"]["jit_compile"] is False
    cells = [(r["method"], r["settings"]["instance"]) for r in result["rows"]]
    assert cells == [(m, n) for m in ("prototypes (pretraining of mann)", "mann", "prototypes")
                     for n in ("all", 1, 2, 3)]
    assert all(r["episodes"] == 6 and 0.0 <= r["mean"] <= 1.0 and r["chance"] == 1 / 3
               for r in result["rows"])
    assert all(r["train_seconds"] > 0 for r in result["rows"])
    curves = [r["train_curve"] for r in result["rows"] if r["settings"]["instance"] == "all"]
    assert [len(c) for c in curves] == [r["epochs"] for r in result["rows"]
                                        if r["settings"]["instance"] == "all"]
    assert sorted(p.name for p in episodes.iterdir()) == [
        "online-omniglot-3way-3inst-test-n6-seed0.h5"]
    assert Path(result["plot"]).is_file()
    assert "MANN, Santoro" in runner.load("online").summarize(result)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "mann.keras", "prototypes.keras"]
    # MANN's conv encoder was first trained as prototypes, then frozen; prototypes' own was not.
    overall = {r["method"]: r for r in result["rows"] if r["settings"]["instance"] == "all"}
    assert overall["mann"]["pretrain_steps"] >= 1 and overall["prototypes"]["pretrain_steps"] == 0
    import l2l.online  # noqa: F401  (registers OnlineClassifier for loading)

    models = {m: keras.saving.load_model(tmp_path / "models" / f"{m}.keras")
              for m in ("mann", "prototypes")}
    assert not models["mann"].encoder.trainable_weights  # frozen, and still so once loaded
    assert models["prototypes"].encoder.trainable_weights
    with pytest.raises(ValueError, match="pretrain_minutes=1 pretrains the conv encoder"):
        runner.load("online").run(quick=True, encoder="pixels", pretrain_minutes=1)
    with pytest.raises(ValueError, match="freeze_encoder=true freezes a pretrained encoder"):
        runner.load("online").run(quick=True, freeze_encoder=True)
    for bad in (-1, float("nan"), True):
        with pytest.raises(ValueError, match="`pretrain_minutes`: expected minutes >= 0"):
            runner.load("online").run(quick=True, pretrain_minutes=bad)
    # Steps right by instance and position add up to the overall accuracy: 6 sequences of 9.
    for r in (r for r in result["rows"] if r["settings"]["instance"] == "all"):
        right, steps = (np.array(r["instance_position"][k]) for k in ("right", "steps"))
        assert steps.shape == (3, 9) and steps.sum() == 6 * 9 and (steps.sum(axis=1) == 18).all()
        assert np.isclose(right.sum() / steps.sum(), r["mean"])


def test_online_reads_raw_pixels_when_asked(omniglot_dir, tmp_path):
    options = {"minutes_per_method": 0.001, "steps_per_epoch": 1, "test_episodes": 4,
               "ways": 3, "instances": 2, "methods": ("mann",), "encoder": "pixels",
               "image_size": 20, "augment": True, "data_dir": str(Path(omniglot_dir).parent)}
    _, result = runner.run_benchmark("online", quick=True, output=tmp_path,
                                     episode_dir=tmp_path / "episodes",
                                     options={**options, "score_training_classes": True,
                                              "train_counts": "random"})
    # Scored on held-out and on training sequences, each stored in a file of its own; training
    # on random class counts leaves the stored (scored) sequences at equal counts.
    cells = [(r["method"], r["settings"]["instance"]) for r in result["rows"]]
    assert cells == [(m, n) for m in ("mann", "mann (training classes)") for n in ("all", 1, 2)]
    assert sorted(p.name for p in (tmp_path / "episodes").iterdir()) == [
        "online-omniglot-3way-2inst-test-n4-seed0.h5",
        "online-omniglot-3way-2inst-train-n4-seed0.h5"]
    for stored in (tmp_path / "episodes").iterdir():
        episodes, info = read_episode_set(stored)
        assert all(np.bincount(y).tolist() == [2, 2, 2] for y in episodes.support_y)
        assert '"counts"' not in info.task_config
    assert result["settings"]["train_counts"] == "random"
    assert "mann (training classes)" in runner.load("online").summarize(result)
    assert result["settings"]["encoder"] == "pixels" and result["settings"]["image_size"] == 20
    assert "shifted by up to 2 px" in result["settings"]["augmentation"]
    assert result["settings"]["encoder_filters"] is None
    assert all(0.0 <= r["mean"] <= 1.0 for r in result["rows"])
    with pytest.raises(ValueError, match="encoder"):
        runner.load("online").run(quick=True, encoder="resnet")
    with pytest.raises(ValueError, match="image_size=20 .*encoder=pixels"):
        runner.load("online").run(quick=True, image_size=20)
    # Area resizing has no XLA kernel: the l2l error at the first step names it and the fix.
    with pytest.raises(ValueError, match="runs ResizeArea, which XLA cannot compile"):
        runner.run_benchmark("online", quick=True, output=tmp_path / "xla",
                             episode_dir=tmp_path / "episodes",
                             options={**options, "jit_compile": True})
    a_file = tmp_path / "models.keras"
    a_file.write_text("")
    with pytest.raises(ValueError, match="`save_to`: expected a folder"):
        runner.load("online").run(quick=True, save_to=str(a_file))  # before any training
    for bad in (0, -3, 2.5, "20", True):
        with pytest.raises(ValueError, match="`image_size`: expected a whole number"):
            runner.load("online").run(quick=True, encoder="pixels", image_size=bad)


def test_pixels_reader_resizes_by_area_then_flattens_to_unit_range():
    from benchmarks.online import _pixels_reader

    image = np.zeros((1, 28, 28, 1), "float32")
    image[0, :13] = 255.0  # white rows 0..12
    out = _pixels_reader(20)(image).numpy().reshape(20, 20)
    # Output row i averages input rows [1.4 i, 1.4 (i + 1)): rows 0-8 white, row 9 covers
    # 12.6-14.0 of which 0.4 is white, rows 10+ black.
    np.testing.assert_allclose(out[:9], 1.0, atol=1e-5)
    np.testing.assert_allclose(out[9], 0.4 / 1.4, atol=1e-5)
    np.testing.assert_allclose(out[10:], 0.0, atol=1e-5)
    assert _pixels_reader(None)(image).shape == (1, 784)


def test_augmented_sequences_jitter_each_image_once_and_keep_query_equal_to_support():
    from benchmarks.online import _augmented
    from l2l.tasks import OnlineClassification

    images = np.zeros((60, 12, 12, 1), np.uint8)
    images[:, 3:9, 5:7] = 255
    task = OnlineClassification(images, np.arange(60) % 6, ways=3, instances=3)

    def first(seed):
        return next(iter(_augmented(task.dataset(2, seed=0), 2.0, 10.0, seed)))

    (inputs, y), (again, _) = first(0), first(0)
    (plain, plain_y) = next(iter(task.dataset(2, seed=0)))
    x = inputs["support_x"].numpy()
    assert x.shape == plain["support_x"].shape and x.dtype == plain["support_x"].dtype
    assert (x != plain["support_x"].numpy()).any()  # jittered ...
    np.testing.assert_array_equal(inputs["query_x"], x)  # ... once: the query is the sequence
    np.testing.assert_array_equal(y, plain_y)
    np.testing.assert_array_equal(inputs["support_y"], plain["support_y"])
    np.testing.assert_array_equal(again["support_x"], x)  # the same draws for a seed
    assert (first(1)[0]["support_x"].numpy() != x).any()


def test_notes_compare_late_instances_at_equal_positions():
    """The committed random-counts run's note, rebuilt from its stored counts."""
    stored = ROOT / "benchmarks" / "results" / "online-mann_pixels_augment_xla_random_counts.json"
    notes = runner.load("online").recompute(json.loads(stored.read_text()))["notes"]
    (note,) = [n for n in notes if "the one before it" in n]
    assert "9th 88.5% and 10th 88.1% (positions 25-48, 1402 steps each)" in note
    assert "8th 88.3% and 9th 88.1%" in note and "7th 89.0% and 8th 88.2%" in note
