"""Training-recipe options: augmentation, warm-up + cosine schedule, ProtoNet temperature, and
the few-shot benchmark's train_ways / eval_ways / val_alphabets (issue 16)."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from l2l.augment import RandomShiftRotate, augment_episodes, shift_rotate  # noqa: E402
from l2l.errors import InvalidValueError  # noqa: E402
from l2l.learners import PrototypeHeadGenerator  # noqa: E402
from l2l.schedules import WarmupCosine  # noqa: E402


def _episodes(seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"support_x": rng.integers(0, 256, (3, 4, 12, 12, 1)).astype("uint8"),
              "support_y": np.tile(np.arange(4, dtype="int32"), (3, 1)),
              "support_mask": np.ones((3, 4), "float32"),
              "query_x": rng.integers(0, 256, (3, 8, 12, 12, 1)).astype("uint8")}
    targets = rng.integers(0, 4, (3, 8)).astype("int32")
    return tf.data.Dataset.from_tensors((inputs, targets)).repeat(2)


def test_shift_and_quarter_turn_move_pixels_where_expected():
    img = np.zeros((2, 7, 7, 1), "float32")
    img[:, 1, 3, 0] = 1.0  # one ink pixel above the centre (3, 3)
    out = np.asarray(shift_rotate(img, degrees=[0.0, 90.0], shifts=[[2.0, -1.0], [0.0, 0.0]]))
    assert np.argwhere(out[0, ..., 0] > 0.99).tolist() == [[3, 2]]  # 2 down, 1 left
    # A quarter turn counter-clockwise, as np.rot90 turns the image array.
    assert np.allclose(out[1, ..., 0], np.rot90(img[1, ..., 0]), atol=1e-5)


def test_augment_episodes_keeps_shapes_dtypes_labels_and_is_deterministic_per_seed():
    plain = list(_episodes())
    first = list(augment_episodes(_episodes(), max_shift=2, max_degrees=10, seed=3))
    again = list(augment_episodes(_episodes(), max_shift=2, max_degrees=10, seed=3))
    other = list(augment_episodes(_episodes(), max_shift=2, max_degrees=10, seed=4))
    for (x0, y0), (x1, y1), (x2, _), (x3, _) in zip(plain, first, again, other, strict=True):
        for key in ("support_x", "query_x"):
            assert x1[key].shape == x0[key].shape and x1[key].dtype == tf.uint8
            assert np.array_equal(x1[key], x2[key])          # same seed, same images
            assert not np.array_equal(x1[key], x0[key])      # changed
            assert not np.array_equal(x1[key], x3[key])      # another seed, other draws
        for key in ("support_y", "support_mask"):
            assert np.array_equal(x1[key], x0[key])
        assert np.array_equal(y1, y0)
    # Each element gets its own draws: the repeated (identical) episode is augmented anew.
    assert not np.array_equal(first[0][0]["query_x"], first[1][0]["query_x"])
    support_only = next(iter(augment_episodes(_episodes(), 2, 10, seed=3, keys=("support_x",))))
    assert np.array_equal(support_only[0]["query_x"], plain[0][0]["query_x"])
    assert not np.array_equal(support_only[0]["support_x"], plain[0][0]["support_x"])
    with pytest.raises(InvalidValueError, match="keys"):
        augment_episodes(_episodes(), keys=("support_y",))


def test_random_shift_rotate_layer_is_identity_at_inference_seeded_and_serialisable():
    x = np.random.default_rng(0).integers(0, 256, (2, 5, 12, 12, 1)).astype("uint8")
    a, b = RandomShiftRotate(2, 15, seed=7), RandomShiftRotate(2, 15, seed=7)
    assert np.array_equal(a(x, training=False), x)
    out = np.asarray(a(x, training=True))
    assert out.shape == x.shape and out.dtype == np.uint8 and not np.array_equal(out, x)
    assert np.array_equal(out, b(x, training=True))
    copy = RandomShiftRotate.from_config(a.get_config())
    assert (copy.max_shift, copy.max_degrees, copy.seed) == (2.0, 15.0, 7)
    with pytest.raises(ValueError, match="max_degrees"):
        RandomShiftRotate(max_degrees=90)


def test_warmup_cosine_values_at_known_steps_and_config_round_trip():
    schedule = WarmupCosine(2e-3, warmup_steps=10, decay_steps=20, alpha=0.1)
    values = [float(schedule(s)) for s in (0, 5, 10, 20, 30, 100)]
    assert np.allclose(values, [0.0, 1e-3, 2e-3, 2e-3 * (0.1 + 0.9 * 0.5), 2e-4, 2e-4])
    assert float(WarmupCosine(1e-3, 0, 10)(0)) == pytest.approx(1e-3)  # no warm-up
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(copy, WarmupCosine) and copy.get_config() == schedule.get_config()
    optimizer = keras.optimizers.Adam(schedule)
    assert keras.optimizers.Adam.from_config(optimizer.get_config()).learning_rate is not None
    with pytest.raises(ValueError, match="decay_steps"):
        WarmupCosine(1e-3, 5, 0)


def test_prototype_temperature_scales_logits_keeps_absent_classes_and_saves(tmp_path):
    from l2l.models import MetaModel
    from l2l.predictors import GeneratedDensePredictor

    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    y, mask = np.array([[0, 1, 1], [0, 1, 1]]), np.ones((2, 3), "float32")
    base = PrototypeHeadGenerator(3)(x, y, mask)["weights"]
    scaled = PrototypeHeadGenerator(3, scale=0.5)(x, y, mask)["weights"]
    assert np.allclose(scaled["kernel_0"], 0.5 * np.asarray(base["kernel_0"]), atol=1e-6)
    assert np.allclose(scaled["bias_0"][:, :2], 0.5 * np.asarray(base["bias_0"][:, :2]))
    assert np.array_equal(scaled["bias_0"][:, 2], base["bias_0"][:, 2])  # class 2 is absent
    assert not PrototypeHeadGenerator(3).get_config().get("trainable_scale")
    model = MetaModel(PrototypeHeadGenerator(3, scale=2.0, trainable_scale=True),
                      GeneratedDensePredictor(), encoder=keras.layers.Dense(4))
    inputs = {"support_x": x, "support_y": y, "support_mask": mask, "query_x": x}
    before = np.asarray(model(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert np.allclose(loaded(inputs), before, atol=1e-6)
    assert any("log_scale" in w.path for w in loaded.trainable_weights)


def test_few_shot_recipe_options_train_ways_eval_ways_and_validation_split(omniglot_dir,
                                                                            tmp_path):
    from benchmarks import few_shot, runner

    episodes = tmp_path / "episodes"
    path, result = runner.run_benchmark(
        "few_shot", quick=True, output=tmp_path, episode_dir=episodes,
        options={"datasets": ("omniglot",), "ways": (5,), "train_ways": 8, "eval_ways": (3,),
                 "augment": True, "temperature": 1.0, "total_steps": 10, "warmup_steps": 2,
                 "val_alphabets": ("Early_Aramaic",), "val_episodes": 10, "test_episodes": 20,
                 "label_smoothing": 0.1, "minutes_per_cell": 1.0,
                 "data_dir": str(Path(omniglot_dir).parent)})
    assert json.loads(path.read_text()) == result
    assert result["settings"]["label_smoothing"] == 0.1
    rows = result["rows"]
    assert [(r["settings"]["ways"], r["trained_ways"]) for r in rows] == [(5, 8), (3, 8)]
    assert rows[0]["steps"] == 10 and len(rows[0]["val_curve"]) == 2  # 2 epochs of 5 steps
    # Both rows come from the one model trained on 8-way episodes; both beat chance.
    assert all(r["mean"] - r["ci95"] > r["chance"] for r in rows), [r["mean"] for r in rows]
    assert sorted(p.name for p in episodes.iterdir()) == [
        "few_shot-omniglot-3way-1shot-test-n20-seed0.h5",
        "few_shot-omniglot-5way-1shot-test-n20-seed0.h5",
        "few_shot-omniglot-val-Early_Aramaic-5way-1shot-val-n10-seed0.h5"]
    # The validation alphabet leaves training; the test classes stay as they were.
    data = few_shot.load("omniglot", str(Path(omniglot_dir).parent))
    test_before, train_before = data["test"].copy(), data["train"].copy()
    val = few_shot.hold_out(data, ("Early_Aramaic",))
    assert np.array_equal(data["test"], test_before) and len(val) == 22
    assert not np.isin(val, data["train"] // 4).any() and np.isin(val, train_before // 4).all()
    with pytest.raises(ValueError, match="training alphabets"):
        few_shot.hold_out(data, ("Korean",))
