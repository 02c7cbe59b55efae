"""Two-digit recipe options (issue 16): digit jitter, weight decay, and the error analysis."""

import numpy as np
import pytest

from benchmarks.two_digit_errors import digit_errors, tile_lookup, tile_numbers
from l2l.errors import InvalidValueError
from l2l.tasks.augment import check_augment, shift_rotate
from l2l.tasks.two_digit import TwoDigitTask


def _ell(n=4):
    """`n` copies of an asymmetric 'L' stroke: a mirror image of it is a different shape."""
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 6:22, 9:12] = 255
    images[:, 19:22, 9:20] = 255
    return images


def test_jitter_keeps_shape_and_dtype_and_is_the_identity_at_zero():
    images = _ell()
    out = shift_rotate(images, np.random.default_rng(0), max_shift=2, max_degrees=10)
    assert out.shape == images.shape and out.dtype == np.uint8 and (out != images).any()
    same = shift_rotate(images, np.random.default_rng(0), max_shift=0, max_degrees=0)
    np.testing.assert_array_equal(same, images)


def test_jitter_is_deterministic_per_seed():
    images = _ell()
    a, b, c = (shift_rotate(images, np.random.default_rng(s), 2, 10) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_jitter_moves_a_little_and_never_mirrors():
    images = _ell(32)
    out = shift_rotate(images, np.random.default_rng(3), max_shift=2, max_degrees=10)

    def centre(x):
        y, x_ = np.indices(x.shape[1:])
        mass = x.astype(float).sum(axis=(1, 2))
        return np.stack([(x * y).sum(axis=(1, 2)) / mass, (x * x_).sum(axis=(1, 2)) / mass], 1)

    moved = np.linalg.norm(centre(out) - centre(images), axis=1)
    # A 2-pixel shift per axis and a 10-degree turn move the stroke's centre by < 3.5 pixels.
    assert moved.max() < 3.5 and moved.mean() > 0.3
    ink = out.astype(float).sum(axis=(1, 2)) / images.astype(float).sum(axis=(1, 2))
    assert np.all((ink > 0.9) & (ink < 1.1))  # the stroke stays inside the image
    flat = out.reshape(32, -1).astype(float)
    original = images.reshape(32, -1).astype(float)
    mirror = images[:, :, ::-1].reshape(32, -1).astype(float)
    assert np.all((flat * original).sum(1) > (flat * mirror).sum(1))


def test_check_augment_names_bad_values():
    assert check_augment(None) is None and check_augment((0, 0)) is None
    assert check_augment([2, 10]) == (2.0, 10.0)
    for bad in [(2,), (20, 10), (2, 90), "big", (-1, 5)]:
        with pytest.raises(InvalidValueError, match="augment"):
            check_augment(bad)


def test_jittered_episodes_keep_labels_and_shapes():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    labels = np.arange(300) % 10
    plain = TwoDigitTask(images, labels, split="train", protocol="strict", queries=4)
    jitter = TwoDigitTask(images, labels, split="train", protocol="strict", queries=4,
                          augment=(2, 10))
    a, b = plain.episodes(8, seed=5), jitter.episodes(8, seed=5)
    assert a.query_x.shape == b.query_x.shape and b.query_x.dtype == np.uint8
    np.testing.assert_array_equal(a.query_y, b.query_y)  # labels are drawn before the images
    np.testing.assert_array_equal(a.support_y, b.support_y)
    np.testing.assert_array_equal(b.query_x, jitter.episodes(8, seed=5).query_x)
    assert (a.query_x != b.query_x).any()


def test_weight_decay_uses_adamw_and_bad_values_are_named():
    import keras

    from l2l.presets import two_digit_model

    assert isinstance(two_digit_model("original", weight_decay=0.1).optimizer,
                      keras.optimizers.AdamW)
    assert type(two_digit_model("original").optimizer) is keras.optimizers.Adam
    with pytest.raises(InvalidValueError, match="weight_decay"):
        two_digit_model("original", weight_decay=-1)


def test_tile_numbers_finds_each_digit_of_a_two_digit_image():
    images = np.stack([np.full((28, 28), i, np.uint8) for i in range(4)])
    labels = np.array([6, 7, 1, 9])
    x = np.concatenate([images[[0, 3]], images[[1, 2]]], axis=-1)[..., None]  # 67, 91
    x = np.concatenate([x, np.full((1, 28, 56, 1), 200, np.uint8)])  # not a tile: unknown
    numbers, indices = tile_numbers(x, tile_lookup(images), labels)
    assert numbers.tolist() == [67, 91, -1]
    assert indices.tolist() == [[0, 1], [3, 2], [-1, -1]]


def test_digit_errors_on_a_hand_made_case():
    targets = np.array([67, 67, 12])
    queries = np.array([[67, 77], [76, 66], [12, 52]])
    correct = np.array([[False, False], [True, False], [True, True]])
    out = digit_errors(targets, queries, correct)
    assert out["same"] == [1, 2] and out["different"] == [2, 4]
    # 67/77 and 67/66 differ in one place (6-7 both times), 67/76 in two, 12/52 in one (1-5).
    assert out["pairs"] == {"1-5": [0, 1], "6-7": [2, 2]}
    assert out["digits"][7] == [3, 4] and out["digits"][2] == [0, 2]
    assert 3 not in out["digits"]
    assert out["numbers"] == {12: [0, 1], 67: [1, 1]}  # same-number queries called different


def test_quick_two_digit_errors_breaks_down_the_stored_test_episodes(mnist_dir, tmp_path):
    from benchmarks import runner

    options = dict(test_episodes=20, minutes=0.01, failures=3, data_dir=mnist_dir)
    _, result = runner.run_benchmark("two_digit_errors", quick=True, options=options,
                                     output=tmp_path, episode_dir=tmp_path / "episodes")
    top, *rest = result["rows"]
    assert top["episodes"] == 20 and len(top["failures"]) <= 3
    assert top["same_errors"][1] + top["different_errors"][1] == 40  # 2 queries an episode
    wrong = top["same_errors"][0] + top["different_errors"][0]
    assert wrong == round(40 * (1 - top["mean"]))
    heldout = {r["settings"]["digit"] for r in rest
               if r["metric"] == "digit_error" and r["settings"]["heldout"]}
    assert heldout == {6, 7}  # every test number of heldout-digits has a 6 or a 7
    assert (tmp_path / "benchmark_two_digit_errors.png").exists()


def test_turns_turn_every_image_of_an_episode_alike_and_keep_the_answers():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)  # one image per digit
    labels = np.arange(10)
    plain = TwoDigitTask(images, labels, split="train", queries=4).episodes(6, seed=2)
    turned = TwoDigitTask(images, labels, split="train", queries=4, turns=(1,)).episodes(
        6, seed=2)
    np.testing.assert_array_equal(plain.query_y, turned.query_y)
    for x, y in ((plain.query_x, turned.query_x), (plain.support_x, turned.support_x)):
        left, right = x[..., :28, 0], x[..., 28:, 0]
        np.testing.assert_array_equal(y[..., :28, 0], np.rot90(left, 1, axes=(-2, -1)))
        np.testing.assert_array_equal(y[..., 28:, 0], np.rot90(right, 1, axes=(-2, -1)))
    with pytest.raises(InvalidValueError, match="turns"):
        TwoDigitTask(images, labels, turns=(5,))


def test_unset_recipe_options_leave_the_stored_episode_config_unchanged():
    images = np.zeros((20, 28, 28), np.uint8)
    labels = np.arange(20) % 10
    config = TwoDigitTask(images, labels, split="test").config()
    assert "augment" not in config and "turns" not in config  # sets stored before them match
    jittered = TwoDigitTask(images, labels, augment=(2, 10), turns=(0, 1)).config()
    assert jittered["augment"] == [2.0, 10.0] and "turns" in jittered


def test_residual_block_adds_its_input_and_projects_only_when_channels_change(tmp_path):
    import keras

    from l2l.networks import ResidualConvBlock

    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    block = ResidualConvBlock(4, batch_norm=False)
    block.build(x.shape)
    assert block.skip is None
    for conv in (block.conv1, block.conv2):  # F(x) = 0: what is left is the skip connection
        conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    np.testing.assert_allclose(block(x), np.maximum(x, 0), atol=1e-6)

    wider = ResidualConvBlock(8)
    y = wider(x, training=True)
    assert tuple(y.shape) == (2, 6, 6, 8) and wider.skip is not None
    model = keras.Sequential([keras.Input((6, 6, 4)), wider])
    model.save(tmp_path / "block.keras")
    loaded = keras.models.load_model(tmp_path / "block.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_compare_only_head_is_symmetric_and_sees_only_comparisons():
    from l2l.predictors import ConditionedPredictor

    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(3, 1, 5)), rng.normal(size=(3, 5))

    def swapped(head):
        a = head(q, {"features": c})
        return np.abs(np.asarray(a) - np.asarray(head(c[:, None], {"features": q[:, 0]}))).max()

    head = ConditionedPredictor(units=(8,), compare_only=True)
    assert swapped(head) < 1e-6  # [q * c, |q - c|] does not change when q and c swap
    assert head.mlp.layers[0].kernel.shape[0] == 2 * 5
    assert swapped(ConditionedPredictor(units=(8,))) > 1e-3  # the full head sees q and c
    with pytest.raises(InvalidValueError, match="interaction=True"):
        ConditionedPredictor(compare_only=True, interaction=False)


def test_two_digit_model_takes_a_digit_encoder_except_for_the_original_kind():
    from l2l.networks import ResidualConvBlock, conv_encoder
    from l2l.presets import DIGIT_FILTERS, digit_encoder, two_digit_model

    model = two_digit_model("siamese", digit_encoder=digit_encoder(residual=True))
    blocks = [layer for layer in model.encoder.encoder.layers
              if isinstance(layer, ResidualConvBlock)]
    assert [b.filters for b in blocks] == list(DIGIT_FILTERS)
    with pytest.raises(InvalidValueError, match="digit_encoder"):
        two_digit_model("original", digit_encoder=conv_encoder())


def test_two_digit_benchmark_names_a_bad_encoder_before_training():
    from benchmarks.two_digit import run

    with pytest.raises(ValueError, match="Unknown encoder 'wide'"):
        run(quick=True, encoder="wide")
    with pytest.raises(ValueError, match="original"):
        run(quick=True, encoder="residual", kinds=("features", "original"))
