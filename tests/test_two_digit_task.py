import numpy as np
import pytest

from l2l.tasks import TwoDigitTask, heldout_digits, image_pools, number_splits
from l2l.tasks.two_digit import PROTOCOLS


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_number_splits_are_disjoint_and_cover_all(protocol):
    splits = number_splits(protocol)
    together = np.concatenate(list(splits.values()))
    assert sorted(together.tolist()) == list(range(100))
    if protocol != "heldout-digits":
        assert [len(splits[s]) for s in ("train", "val", "test")] == [70, 15, 15]


def test_number_split_is_fixed_by_the_recorded_seed():
    np.testing.assert_array_equal(number_splits("strict")["test"], number_splits("strict")["test"])
    assert not np.array_equal(number_splits("strict", seed=1)["test"],
                              number_splits("strict")["test"])


def test_heldout_digits_never_appear_in_training_numbers():
    held = heldout_digits()
    splits = number_splits("heldout-digits")
    train = splits["train"]
    assert not np.isin(train // 10, held).any() and not np.isin(train % 10, held).any()
    for split in ("val", "test"):
        n = splits[split]
        assert (np.isin(n // 10, held) | np.isin(n % 10, held)).all()


def test_strict_image_pools_are_disjoint_and_stratified(digits):
    _, labels = digits
    pools = image_pools(labels, "strict")
    assert not set(pools["train"]) & set(pools["test"])
    assert not set(pools["train"]) & set(pools["val"])
    assert not set(pools["val"]) & set(pools["test"])
    assert set(np.unique(labels[pools["test"]])) == set(range(10))
    assert all(len(p) == len(labels) for p in image_pools(labels, "original").values())


def test_episode_shapes_balance_and_labels(digits):
    task = TwoDigitTask(*digits, split="train", protocol="strict", shots=3, queries=6)
    ep = task.episodes(64, seed=0)
    assert ep.support_x.shape == (64, 3, 28, 56, 1) and ep.support_x.dtype == np.uint8
    assert ep.query_x.shape == (64, 6, 28, 56, 1)
    np.testing.assert_array_equal(ep.query_y.sum(axis=1), 3)  # exactly half "same"
    assert ep.support_y.min() == 1.0


def _numbers_of(images, digits_images, digits_labels):
    """Recover the number shown by each composed image (exact match of the digit images)."""
    pairs = zip(digits_images, digits_labels, strict=True)
    lookup = {img.tobytes(): int(lab) for img, lab in pairs}
    tens = [lookup[x[:, :28, 0].tobytes()] for x in images]
    ones = [lookup[x[:, 28:, 0].tobytes()] for x in images]
    return np.array(tens) * 10 + np.array(ones)


def test_episodes_use_only_their_split_and_labels_are_true(digits):
    images, labels = digits
    task = TwoDigitTask(images, labels, split="test", protocol="strict", queries=4,
                        hard_negative_fraction=0.5)
    ep = task.episodes(40, seed=3)
    support = _numbers_of(ep.support_x[:, 0], images, labels)
    query = _numbers_of(ep.query_x.reshape(-1, 28, 56, 1), images, labels).reshape(40, 4)
    test_numbers = set(number_splits("strict")["test"].tolist())
    assert set(support.tolist()) <= test_numbers and set(query.ravel().tolist()) <= test_numbers
    np.testing.assert_array_equal(query == support[:, None], ep.query_y > 0.5)
    pool = set(image_pools(labels, "strict")["test"].tolist())
    used = {images[i].tobytes() for i in pool}
    assert all(x[:, :28, 0].tobytes() in used for x in ep.query_x.reshape(-1, 28, 56, 1))


def test_hard_negatives_share_a_digit(digits):
    task = TwoDigitTask(*digits, split="train", queries=8, hard_negative_fraction=1.0)
    images, labels = digits
    ep = task.episodes(30, seed=1)
    support = _numbers_of(ep.support_x[:, 0], images, labels)
    query = _numbers_of(ep.query_x.reshape(-1, 28, 56, 1), images, labels).reshape(30, 8)
    neg = ep.query_y < 0.5
    s = np.broadcast_to(support[:, None], query.shape)[neg]
    q = query[neg]
    swapped = (s // 10 == q % 10) & (s % 10 == q // 10)
    related = (s // 10 == q // 10) | (s % 10 == q % 10) | swapped
    assert related.all() and (s != q).all()


def test_determinism_for_a_seed(digits):
    task = TwoDigitTask(*digits, split="train", protocol="strict", shots=(1, 4), queries=4)
    a, b = task.episodes(16, seed=7, index=2), task.episodes(16, seed=7, index=2)
    for field in ("support_x", "support_mask", "query_x", "query_y"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.query_x, task.episodes(16, seed=8, index=2).query_x)
    fixed = task.fixed_episodes(40, seed=0)
    assert fixed.batch_size == 40
    np.testing.assert_array_equal(fixed.query_x,
                                  task.fixed_episodes(40, seed=0).query_x)


def test_dataset_streams_the_same_batches(digits):
    task = TwoDigitTask(*digits, split="train", queries=2)
    inputs, y = next(iter(task.dataset(8, seed=5, num_batches=1)))
    ep = task.episodes(8, seed=5, index=0)
    np.testing.assert_array_equal(inputs["query_x"].numpy(), ep.query_x)
    np.testing.assert_array_equal(y.numpy(), ep.query_y)


def test_ragged_shots_are_masked_and_zero_padded(digits):
    task = TwoDigitTask(*digits, shots=(1, 5), queries=2)
    ep = task.episodes(200, seed=0)
    counts = ep.support_mask.sum(axis=1)
    assert counts.min() == 1 and counts.max() == 5
    padded = ep.support_mask == 0
    assert (ep.support_x[padded] == 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(protocol="loose"), "Unknown protocol"),
    (dict(split="holdout"), "Unknown split"),
    (dict(queries=3), "even number"),
    (dict(shots=0), "shots must be"),
    (dict(shots=(4, 2)), "shots must be"),
    (dict(hard_negative_fraction=1.5), "hard_negative_fraction"),
])
def test_bad_arguments_are_named(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoDigitTask(*digits, **kwargs)


def test_bad_images_are_named(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="uint8 digits of shape"):
        TwoDigitTask(images.astype("float32"), labels)
    with pytest.raises(ValueError, match="no images of digit"):
        TwoDigitTask(images[labels != 3], labels[labels != 3])


def test_a_smaller_fixed_set_is_a_prefix_of_a_larger_one(digits):
    task = TwoDigitTask(*digits, split="test", queries=2)
    small, large = task.fixed_episodes(10, seed=4), task.fixed_episodes(300, seed=4)
    np.testing.assert_array_equal(small.query_x, large.query_x[:10])
