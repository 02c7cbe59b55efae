"""The online few-shot protocol, its models (MANN, LSTM, causal attention, prototypes) and the
LRUA memory against a hand computation."""

import warnings

import keras
import numpy as np
import pytest

from l2l.episode_store import episode_set
from l2l.learners import MANNLearner
from l2l.learners.mann import (
    MEMORY_INIT,
    delayed_labels,
    least_used,
    least_used_slots,
    lrua_step,
)
from l2l.online import ONLINE_KINDS, OnlineClassifier, online_model, online_scores
from l2l.tasks import OnlineClassification, instance_numbers, per_instance_accuracy

WAYS, INSTANCES = 3, 3


def clusters(classes=60, per_class=12, dim=8, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    x = rng.normal(size=(classes, dim))[labels] + noise * rng.normal(size=(len(labels), dim))
    return x.astype("float32"), labels


@pytest.fixture(scope="module")
def tasks():
    x, labels = clusters()
    return {split: OnlineClassification(x, labels, ways=WAYS, instances=INSTANCES,
                                        classes=classes)
            for split, classes in (("train", np.arange(40)), ("test", np.arange(40, 60)))}


def test_episodes_are_sequences_of_every_class_equally_often(tasks):
    ep, info = tasks["test"].episodes(6, seed=0, with_info=True)
    assert ep.support_x.shape == ep.query_x.shape == (6, WAYS * INSTANCES, 8)
    assert ep.support_y.shape == ep.query_y.shape == (6, WAYS * INSTANCES)
    assert np.array_equal(ep.query_x, ep.support_x) and np.array_equal(ep.query_y, ep.support_y)
    for y in ep.support_y:
        assert np.bincount(y, minlength=WAYS).tolist() == [INSTANCES] * WAYS
    assert np.isin(info["classes"], np.arange(40, 60)).all()  # held-out classes only
    x, labels = clusters()
    assert (labels[info["index"]] == np.take_along_axis(info["classes"], ep.support_y, 1)).all()
    np.testing.assert_array_equal(x[info["index"]], ep.support_x)
    assert np.array_equal(info["instance"], instance_numbers(ep.support_y))


def repeat_rate_after(y: np.ndarray, seen: int) -> float:
    """How often a class seen exactly `seen` times before a step is that step's label."""
    before = np.cumsum(y[:, :, None] == np.arange(y.max() + 1), axis=1) - (
        y[:, :, None] == np.arange(y.max() + 1))  # [B, T, classes]: sightings before step t
    candidates = before == seen
    return float((candidates & (y[:, :, None] == np.arange(y.max() + 1))).sum()
                 / candidates.sum())


def test_random_counts_vary_around_instances_with_no_count_prior():
    x, labels = clusters()  # 12 examples per class: at most 11 appearances
    task = OnlineClassification(x, labels, ways=WAYS, instances=4, counts="random")
    assert task.max_instances == 11 and task.length == WAYS * 4
    ep, info = task.episodes(400, seed=0, with_info=True)
    assert ep.support_y.shape == (400, WAYS * 4) and ep.support_mask.all()
    counts = np.stack([np.bincount(y, minlength=WAYS) for y in ep.support_y])
    assert counts.min() >= 1 and counts.max() <= 11 and len(np.unique(counts)) > 4
    assert counts.mean() == pytest.approx(4) and counts.std() == pytest.approx(
        np.sqrt(WAYS * 4 * (1 / WAYS) * (1 - 1 / WAYS)), rel=0.15)  # near multinomial spread
    assert all(len(set(rows)) == WAYS * 4 for rows in info["index"])  # no example twice
    assert (labels[info["index"]] == np.take_along_axis(info["classes"], ep.support_y, 1)).all()
    np.testing.assert_array_equal(x[info["index"]], ep.support_x)
    # Equal counts never show a class again once it has been seen `instances` times; with
    # random counts such a class is the next label about as often as any (1 / ways).
    assert repeat_rate_after(ep.support_y, 4) == pytest.approx(1 / WAYS, abs=0.06)
    equal = OnlineClassification(x, labels, ways=WAYS, instances=4).episodes(400, seed=0)
    assert repeat_rate_after(equal.support_y, 4) == 0
    again = task.episodes(400, seed=0)
    assert np.array_equal(again.support_y, ep.support_y)
    assert task.config()["counts"] == "random"
    equal = OnlineClassification(x, labels, ways=WAYS, instances=4)
    assert "counts" not in equal.config()  # the stored equal-count sets keep their fingerprint
    with pytest.raises(ValueError, match="counts"):
        OnlineClassification(x, labels, ways=WAYS, instances=4, counts="uniform")
    with pytest.raises(ValueError, match="`instances`: expected at most 11 with random counts"):
        OnlineClassification(x, labels, ways=WAYS, instances=12, counts="random")
    with pytest.raises(ValueError, match="`instances`: expected well below max_instances=11"):
        OnlineClassification(x, labels, ways=5, instances=11, counts="random")  # all 11s


def test_episodes_are_deterministic_per_seed_and_storable(tasks, tmp_path):
    task = tasks["test"]
    a, b = task.episodes(4, seed=3, index=2), task.episodes(4, seed=3, index=2)
    assert np.array_equal(a.support_x, b.support_x) and np.array_equal(a.support_y, b.support_y)
    assert not np.array_equal(a.support_y, task.episodes(4, seed=4, index=2).support_y)
    path = tmp_path / "online.h5"
    first = episode_set(path, task, num_episodes=20, seed=0, split="test")
    again = episode_set(path, task, num_episodes=20, seed=0, split="test")
    assert np.array_equal(first.support_x, again.support_x)
    other = OnlineClassification(*clusters(), ways=WAYS, instances=2, classes=np.arange(40, 60))
    with pytest.raises(ValueError, match="instances"):
        episode_set(path, other, num_episodes=20, seed=0, split="test")


def test_instance_bookkeeping_on_a_hand_made_sequence():
    labels = np.array([[1, 0, 1, 1, 2, 0, 2], [0, 0, 0, 1, 1, 2, 2]])
    assert instance_numbers(labels).tolist() == [[1, 1, 2, 3, 1, 2, 2], [1, 2, 3, 1, 2, 1, 2]]
    correct = np.array([[0, 1, 1, 0, 1, 1, 1], [1, 1, 1, 0, 0, 1, 0]])
    acc = per_instance_accuracy(correct, labels)
    # 1st instances: episode 0 steps 0, 1, 4 -> 2/3; episode 1 steps 0, 3, 5 -> 2/3.
    assert acc[1]["mean"] == pytest.approx(2 / 3) and acc[1]["steps"] == 6
    # 2nd: episode 0 steps 2, 5, 6 -> 1; episode 1 steps 1, 4, 6 -> 1/3.
    assert acc[2]["mean"] == pytest.approx(2 / 3) and acc[2]["episodes"] == 2
    # 3rd: episode 0 step 3 -> 0; episode 1 step 2 -> 1.
    assert acc[3]["mean"] == pytest.approx(0.5) and acc[3]["steps"] == 2
    assert sorted(per_instance_accuracy(correct, labels, instances=(2, 9))) == [2]


def test_each_label_is_given_only_after_its_step():
    y = np.array([[2, 0, 1, 1]])
    assert delayed_labels(y, 3, "float32").numpy()[0].argmax(-1).tolist() == [0, 2, 0, 1]
    assert delayed_labels(y, 3, "float32").numpy()[0, 0].sum() == 0  # nothing before step 0
    x, labels = clusters()
    ep = OnlineClassification(x, labels, ways=WAYS, instances=INSTANCES).episodes(2, seed=0)
    t = 4  # change the label of step t and everything after it: steps <= t must not move
    changed = ep.inputs()
    changed["support_y"] = ep.support_y.copy()
    changed["support_y"][:, t:] = (ep.support_y[:, t:] + 1) % WAYS
    changed["support_x"] = ep.support_x.copy()
    changed["support_x"][:, t + 1:] += 5.0
    changed["query_x"] = changed["support_x"]
    variants = [(kind, {}) for kind in ONLINE_KINDS]
    variants.append(("mann", {"previous_example": True, "write_values": True}))
    for kind, options in variants:
        keras.utils.set_random_seed(0)
        model = online_model(kind, WAYS, encoder=keras.layers.Dense(8), width=8,
                             memory_slots=6, memory_width=4, read_heads=2, **options)
        before, after = model(ep.inputs()).numpy(), model(changed).numpy()
        np.testing.assert_allclose(after[:, :t + 1], before[:, :t + 1], atol=1e-5,
                                   err_msg=f"{kind} {options}")
        assert not np.allclose(after[:, t + 1:], before[:, t + 1:]), kind


def test_lrua_memory_matches_a_hand_computation():
    memory = np.array([[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.2, -0.4]]])
    usage = np.array([[0.9, 0.1, 0.5, 0.3]])
    previous_read = np.array([[[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 1.0, 0.0]]])
    keys = np.array([[[1.0, 1.0], [-1.0, 0.5]]])
    gates, strengths, decay = np.array([[0.25, 1.0]]), np.array([[2.0, 1.0]]), 0.9
    # Least used (two heads): slots 1 and 3; slot 1, the least of all, is erased first.
    least = np.array([0.0, 1.0, 0.0, 1.0])
    assert least_used(usage, 2).numpy()[0].tolist() == least.tolist()
    write = np.stack([0.25 * previous_read[0, 0] + 0.75 * least, previous_read[0, 1]])
    expected = memory[0].copy()
    expected[1] = 0.0
    expected += write.T @ keys[0]
    unit = lambda v: v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-8)  # noqa: E731
    cosine = unit(keys[0]) @ unit(expected).T
    read = np.exp(strengths[0][:, None] * cosine)
    read /= read.sum(axis=1, keepdims=True)
    m, u, w, r = lrua_step(memory, usage, previous_read, keys, gates, strengths, decay)
    np.testing.assert_allclose(m.numpy()[0], expected, atol=1e-6)
    np.testing.assert_allclose(w.numpy()[0], read, atol=1e-5)
    np.testing.assert_allclose(r.numpy()[0], read @ expected, atol=1e-5)
    np.testing.assert_allclose(u.numpy()[0], decay * usage[0] + read.sum(0) + write.sum(0),
                               atol=1e-5)


def test_lrua_writes_values_instead_of_keys_when_given():
    memory, usage = np.zeros((1, 3, 2)) + 0.5, np.array([[0.2, 0.9, 0.4]])
    previous_read, keys = np.array([[[0.0, 1.0, 0.0]]]), np.array([[[1.0, -1.0]]])
    values, gates, strengths = np.array([[[0.3, 0.6]]]), np.array([[0.5]]), np.array([[3.0]])
    m, _, w, r = lrua_step(memory, usage, previous_read, keys, gates, strengths, 0.9, values)
    # Slot 0 (least used) is erased; write weights 0.5 * previous read + 0.5 * least used.
    expected = memory[0].copy()
    expected[0] = 0.0
    expected += np.array([0.5, 0.5, 0.0])[:, None] * values[0]
    np.testing.assert_allclose(m.numpy()[0], expected, atol=1e-6)
    unit = lambda v: v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-8)  # noqa: E731
    read = np.exp(3.0 * unit(keys[0]) @ unit(expected).T)  # the lookup still uses the key
    np.testing.assert_allclose(w.numpy()[0], read / read.sum(), atol=1e-5)
    np.testing.assert_allclose(r.numpy()[0], (read / read.sum()) @ expected, atol=1e-5)


def test_lrua_distinct_slots_give_each_head_a_fresh_slot_of_its_own():
    memory = np.array([[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.2, -0.4]]])
    usage = np.array([[0.9, 0.1, 0.5, 0.3]])
    previous_read = np.array([[[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 1.0, 0.0]]])
    keys = np.array([[[1.0, 1.0], [-1.0, 0.5]]])
    gates, strengths = np.array([[0.25, 0.5]]), np.array([[2.0, 1.0]])
    # Head 0's fresh slot is slot 1 (least used), head 1's is slot 3; both are erased.
    assert least_used_slots(usage, 2).numpy()[0].tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    write = np.stack([0.25 * previous_read[0, 0] + 0.75 * np.array([0.0, 1.0, 0.0, 0.0]),
                      0.5 * previous_read[0, 1] + 0.5 * np.array([0.0, 0.0, 0.0, 1.0])])
    expected = memory[0].copy()
    expected[[1, 3]] = 0.0
    expected += write.T @ keys[0]
    m, u, w, _ = lrua_step(memory, usage, previous_read, keys, gates, strengths, 0.9,
                           distinct_slots=True)
    np.testing.assert_allclose(m.numpy()[0], expected, atol=1e-6)
    np.testing.assert_allclose(u.numpy()[0], 0.9 * usage[0] + w.numpy()[0].sum(0)
                               + write.sum(0), atol=1e-5)
    shared = lrua_step(memory, usage, previous_read, keys, gates, strengths, 0.9)[0]
    assert not np.allclose(shared.numpy(), m.numpy())  # the paper's write differs


def test_mann_binding_options_are_saved_and_change_the_model(tasks, tmp_path):
    ep = tasks["test"].episodes(2, seed=0)
    keras.utils.set_random_seed(0)
    model = online_model("mann", WAYS, encoder=None, width=8, memory_slots=6, memory_width=4,
                         read_heads=2, previous_example=True, write_values=True,
                         distinct_slots=True)
    logits = model(ep.inputs()).numpy()
    # x_{t-1} widens the controller's input by one example; values widen the interface.
    assert model.learner.cell.controller.kernel.shape[0] == 8 + WAYS + 8 + 2 * 4
    assert model.learner.cell.interface.kernel.shape[1] == 2 * (2 * 4 + 2)
    model.save(tmp_path / "options.keras")
    loaded = keras.models.load_model(tmp_path / "options.keras")
    assert loaded.learner.previous_example and loaded.learner.cell.write_values
    assert loaded.learner.cell.distinct_slots
    np.testing.assert_allclose(loaded(ep.inputs()).numpy(), logits, atol=1e-5)


def test_mann_initial_strength_and_gate_set_the_start_and_are_saved(tasks, tmp_path):
    ep = tasks["test"].episodes(2, seed=0)
    outputs = {}
    for start in ({}, {"initial_strength": 10.0, "initial_gate": 0.1}):
        keras.utils.set_random_seed(0)  # the same weights: only the start differs
        model = online_model("mann", WAYS, encoder=None, width=8, memory_slots=6,
                             memory_width=4, read_heads=2, **start)
        outputs[bool(start)] = model(ep.inputs()).numpy()
    cell = model.learner.cell
    # At a zero interface output, beta and the gate are the values asked for.
    assert 1 + np.log1p(np.exp(cell._strength_offset)) == pytest.approx(10.0)
    assert 1 / (1 + np.exp(-cell._gate_offset)) == pytest.approx(0.1)
    assert not np.allclose(outputs[True], outputs[False])
    model.save(tmp_path / "start.keras")
    loaded = keras.models.load_model(tmp_path / "start.keras").learner.cell
    assert (loaded.initial_strength, loaded.initial_gate) == (10.0, 0.1)
    for bad in ({"initial_strength": 1.0}, {"initial_gate": 1.0}, {"initial_gate": "0.1"},
                {"memory_slots": 0}, {"memory_width": 2.5}, {"read_heads": True},
                {"read_heads": 9, "memory_slots": 8}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            online_model("mann", WAYS, encoder=None, width=8, **bad)
    with pytest.raises(ValueError, match="usage_decay"):
        MANNLearner(WAYS, usage_decay=1.0)


def test_mann_trains_the_same_under_xla(tasks):
    """The recurrent MANN step compiles with XLA (about twice as fast on a CPU, see
    benchmarks/online.py) and computes what the plain graph computes."""
    data = tasks["train"].episodes(8, seed=0)
    losses, weights = {}, {}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = online_model("mann", WAYS, encoder=None, width=8, memory_slots=6,
                             memory_width=4, read_heads=2, previous_example=True,
                             write_values=True, jit_compile=jit)
        assert model.jit_compile is jit
        losses[jit] = [model.train_on_batch(data.inputs(), data.query_y)[0] for _ in range(3)]
        weights[jit] = model.get_weights()
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
    assert losses[True][-1] < losses[True][0]
    for xla, graph in zip(weights[True], weights[False], strict=True):
        np.testing.assert_allclose(xla, graph, rtol=1e-3, atol=1e-5)


def test_mann_beats_chance_on_held_out_classes_and_round_trips(tasks, tmp_path):
    keras.utils.set_random_seed(0)
    model = online_model("mann", WAYS, encoder=None, width=8, memory_slots=8, memory_width=8,
                         read_heads=1, learning_rate=3e-2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(tasks["train"].dataset(16, seed=0), steps_per_epoch=400, epochs=1,
                  verbose=0)
    # Keras warns about a model without build() whose layers are unbuilt; it has one.
    assert not [w for w in caught if "build()" in str(w.message)]
    test = tasks["test"].fixed_episodes(200, seed=0)
    scores = online_scores(model, test)["by_instance"]
    # Chance is 1/3; counting which labels were shown already gives about 0.5 at later
    # instances (0.55 after 400 steps at a third of this learning rate), so beating 0.6
    # needs the memory to bind examples to labels (0.66 when written).
    assert min(scores[n]["mean"] for n in (2, 3)) > 0.6, scores
    assert scores[1]["mean"] < 0.7, scores  # a first appearance can only be guessed
    model.save(tmp_path / "mann.keras")
    loaded = keras.models.load_model(tmp_path / "mann.keras")
    assert isinstance(loaded, OnlineClassifier)
    np.testing.assert_allclose(loaded.predict(test[:4].inputs(), verbose=0),
                               model.predict(test[:4].inputs(), verbose=0), atol=1e-5)
    assert MEMORY_INIT > 0
