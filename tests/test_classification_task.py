import numpy as np
import pytest

from l2l.evaluation import per_episode_accuracy
from l2l.tasks import CLASS_SPLIT_SEED, FewShotClassification, class_splits, fraction_split


def labelled(num_classes=12, per_class=10, ids=None):
    """`x[i] = i` (so every example names its own row) and shuffled, non-contiguous labels."""
    ids = np.arange(num_classes) * 7 + 3 if ids is None else np.asarray(ids)
    labels = np.random.default_rng(0).permutation(np.repeat(ids, per_class))
    return np.arange(len(labels)), labels


# ---- class_splits --------------------------------------------------------------------------


def test_class_splits_are_disjoint_cover_everything_and_use_the_recorded_seed():
    _, labels = labelled(num_classes=40)
    splits = class_splits(labels)
    assert list(splits) == ["train", "val", "test"]
    assert [len(splits[s]) for s in splits] == [28, 6, 6]
    together = np.concatenate(list(splits.values()))
    assert sorted(together.tolist()) == sorted(np.unique(labels).tolist())
    assert len(set(together.tolist())) == 40
    again = class_splits(np.unique(labels), seed=CLASS_SPLIT_SEED)  # class ids work too
    assert all(np.array_equal(splits[s], again[s]) for s in splits)
    other = class_splits(labels, seed=1)
    assert not np.array_equal(other["test"], splits["test"])


def test_class_splits_custom_fractions_and_names():
    splits = class_splits(np.arange(10), fractions=(0.5, 0.5), names=("a", "b"))
    assert [len(v) for v in splits.values()] == [5, 5]
    with pytest.raises(ValueError, match="sum to 1"):
        class_splits(np.arange(10), fractions=(0.5, 0.6))
    with pytest.raises(ValueError, match="Name the 4 splits"):
        class_splits(np.arange(10), fractions=(0.25,) * 4)
    with pytest.raises(ValueError, match="no labels"):
        class_splits(np.array([], dtype=int))
    with pytest.raises(ValueError, match="'val' split got no classes"):
        class_splits(np.arange(2))


def test_fraction_split_keeps_every_item_once():
    parts = fraction_split(np.arange(7), np.random.default_rng(3), (0.5, 0.25, 0.25))
    assert sorted(np.concatenate(parts).tolist()) == list(range(7))


# ---- episodes ------------------------------------------------------------------------------


def test_shapes_dtypes_and_balance():
    x = np.random.default_rng(0).integers(0, 256, size=(120, 5, 4), dtype=np.uint8)
    labels = np.arange(120) % 12
    task = FewShotClassification(x, labels, ways=4, shots=3, queries=2)
    ep = task.episodes(16, seed=0)
    assert ep.support_x.shape == (16, 12, 5, 4) and ep.support_x.dtype == np.uint8
    assert ep.query_x.shape == (16, 8, 5, 4) and ep.query_x.dtype == np.uint8
    assert ep.support_y.shape == (16, 12) and ep.support_y.dtype == np.int32
    assert ep.query_y.shape == (16, 8) and ep.query_y.dtype == np.int32
    assert ep.support_mask.dtype == np.float32 and ep.support_mask.min() == 1.0
    for row in ep.support_y:
        assert np.bincount(row, minlength=4).tolist() == [3, 3, 3, 3]
    for row in ep.query_y:
        assert np.bincount(row, minlength=4).tolist() == [2, 2, 2, 2]
    assert (task.support_size, task.query_size) == (12, 8)


def test_labels_are_true_and_examples_distinct():
    x, labels = labelled()
    task = FewShotClassification(x, labels, ways=5, shots=2, queries=3)
    ep, info = task.episodes(50, seed=1, with_info=True)
    np.testing.assert_array_equal(ep.support_x, info["support_index"])  # x[i] == i
    np.testing.assert_array_equal(ep.query_x, info["query_index"])
    for b in range(50):
        classes = info["classes"][b]
        assert len(set(classes.tolist())) == 5
        # The example shown with index c really belongs to class classes[c].
        np.testing.assert_array_equal(labels[ep.support_x[b]], classes[ep.support_y[b]])
        np.testing.assert_array_equal(labels[ep.query_x[b]], classes[ep.query_y[b]])
        rows = np.concatenate([ep.support_x[b], ep.query_x[b]])
        assert len(set(rows.tolist())) == len(rows)  # no example shown twice


def test_classes_restrict_episodes_to_a_split():
    x, labels = labelled(num_classes=30)
    splits = class_splits(labels)
    task = FewShotClassification(x, labels, ways=3, classes=splits["test"])
    ep, info = task.episodes(40, seed=2, with_info=True)
    assert set(labels[ep.query_x].ravel().tolist()) <= set(splits["test"].tolist())
    assert set(info["classes"].ravel().tolist()) == set(splits["test"].tolist())


def test_relabelling_is_a_fresh_permutation_per_episode():
    x, labels = labelled(num_classes=5)
    task = FewShotClassification(x, labels, ways=5, shots=1, queries=1)  # same 5 classes always
    _, info = task.episodes(200, seed=3, with_info=True)
    orders = {tuple(row) for row in info["classes"].tolist()}
    assert len(orders) > 50  # of 120 possible orders
    # Every class lands on every index about equally often.
    index_of_first = np.argmax(info["classes"] == labels.min(), axis=1)
    assert np.bincount(index_of_first, minlength=5).min() > 20


def test_determinism_for_a_seed():
    x, labels = labelled()
    task = FewShotClassification(x, labels, ways=3, shots=(1, 4), queries=2)
    a, b = task.episodes(8, seed=5, index=2), task.episodes(8, seed=5, index=2)
    c = task.episodes(8, seed=5, index=3)
    for field in ("support_x", "support_y", "support_mask", "query_x", "query_y"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.query_x, c.query_x)
    fixed, info = task.fixed_episodes(300, seed=0, with_info=True)
    assert fixed.batch_size == 300 and info["classes"].shape == (300, 3)
    again = task.fixed_episodes(300, seed=0)
    np.testing.assert_array_equal(fixed.query_x, again.query_x)


def test_ragged_shots_pad_at_the_end_with_zeros():
    x, labels = labelled()
    x = x + 1  # so a zero can only be padding
    task = FewShotClassification(x, labels, ways=3, shots=(1, 4), queries=1)
    ep = task.episodes(100, seed=4)
    assert ep.support_x.shape[1] == 12
    real = ep.support_mask.sum(axis=1)
    assert set(real.tolist()) == {3.0, 6.0, 9.0, 12.0}  # k shots of each of 3 classes
    for b in range(100):
        k = int(real[b])
        np.testing.assert_array_equal(ep.support_mask[b], np.arange(12) < k)  # padding last
        assert (ep.support_x[b, k:] == 0).all() and (ep.support_x[b, :k] > 0).all()
        assert (ep.support_y[b, k:] == 0).all()
        assert np.bincount(ep.support_y[b, :k], minlength=3).tolist() == [k // 3] * 3


def test_support_order_shuffled_or_class_major():
    x, labels = labelled()
    shuffled = FewShotClassification(x, labels, ways=3, shots=2, queries=2).episodes(50, seed=0)
    sorted_rows = [np.array_equal(row, np.sort(row)) for row in shuffled.support_y]
    assert np.mean(sorted_rows) < 0.2
    ordered = FewShotClassification(x, labels, ways=3, shots=(1, 2), queries=2,
                                    shuffle=False).episodes(50, seed=0)
    for row, mask in zip(ordered.support_y, ordered.support_mask, strict=True):
        k = int(mask.sum())
        np.testing.assert_array_equal(row[:k], np.repeat(np.arange(3), k // 3))
    np.testing.assert_array_equal(ordered.query_y, np.tile(np.repeat(np.arange(3), 2), (50, 1)))


def test_dataset_for_fit_and_multiclass_accuracy_on_true_logits():
    x, labels = labelled()
    task = FewShotClassification(x.astype("float32"), labels, ways=4, shots=1, queries=2)
    inputs, y = next(iter(task.dataset(6, seed=0)))
    assert tuple(y.shape) == (6, 8) and y.dtype.name == "int32"
    assert tuple(inputs["support_y"].shape) == (6, 4)
    ep = task.episodes(10, seed=0)
    perfect = np.eye(4)[ep.query_y] * 5.0
    np.testing.assert_array_equal(per_episode_accuracy(perfect, ep.query_y), 1.0)
    wrong = np.eye(4)[(ep.query_y + 1) % 4]
    np.testing.assert_array_equal(per_episode_accuracy(wrong, ep.query_y), 0.0)


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(ways=13), r"ways=13 needs at least 13 classes but only 12"),
    (dict(ways=1), r"ways must be an integer >= 2"),
    (dict(classes=[]), r"classes is empty"),
    (dict(classes=[3, 999]), r"classes \[999\] have no examples"),
    (dict(shots=8, queries=3), r"Class \d+ has only 10 examples, but every class needs "
                               r"shots \+ queries = 8 \+ 3 = 11"),
    (dict(shots=0), r"shots must be >= 1"),
    (dict(shots=(3, 2)), r"shots must be >= 1"),
    (dict(queries=0), r"queries \(per class\) must be an integer >= 1"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    x, labels = labelled()
    with pytest.raises(ValueError, match=message):
        FewShotClassification(x, labels, **kwargs)


def test_smallest_class_is_named():
    x, labels = labelled(num_classes=4, per_class=6)
    keep = np.ones(len(labels), bool)
    keep[np.flatnonzero(labels == 10)[:4]] = False  # class 10 keeps 2 examples
    with pytest.raises(ValueError, match=r"Class 10 has only 2 examples.*\(1 classes have fewer"):
        FewShotClassification(x[keep], labels[keep], ways=2, shots=2, queries=1)


def test_bad_arrays_name_the_problem():
    x, labels = labelled()
    with pytest.raises(ValueError, match="x has 120 examples but labels has 119"):
        FewShotClassification(x, labels[:-1])
    with pytest.raises(ValueError, match="labels must be a 1-D integer array"):
        FewShotClassification(x, labels.astype(float))
    bad = x.astype("float32")
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 examples \(first rows \[7"):
        FewShotClassification(bad, labels)
    with pytest.raises(ValueError, match="N >= 1"):
        FewShotClassification(np.zeros((0, 3)), np.zeros(0, int))


# ---- the accuracy metric -------------------------------------------------------------------


def test_accuracy_binary_and_multiclass():
    binary = per_episode_accuracy(np.array([[1.0, -1.0], [1.0, 1.0]]), np.array([[1, 0], [0, 0]]))
    np.testing.assert_allclose(binary, [1.0, 0.0])
    trailing = per_episode_accuracy(np.array([[[1.0], [-1.0]]]), np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(trailing, [0.5])
    logits = np.array([[[0.1, 0.9, 0.0], [3.0, 0.0, 0.0]], [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    np.testing.assert_allclose(per_episode_accuracy(logits, np.array([[1, 0], [0, 0]])),
                               [1.0, 0.0])
    as_float = np.array([[1.0, 0.0], [2.0, 1.0]], "float32")
    np.testing.assert_allclose(per_episode_accuracy(logits, as_float), [1.0, 1.0])


def test_accuracy_rejects_mismatched_or_out_of_range_targets():
    logits = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"class labels in 0\.\.3.*labels from 0 to 4"):
        per_episode_accuracy(logits, np.array([[0, 1, 4], [0, 0, 0]]))
    with pytest.raises(ValueError, match="integer class indices"):
        per_episode_accuracy(logits, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"`predictions`: expected binary logits of the "
                       r"targets' shape \(2, 4\).*shape=\(2, 3, 4\)"):
        per_episode_accuracy(logits, np.zeros((2, 4), int))
