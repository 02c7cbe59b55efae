import keras
import pytest

from l2l.training import TimeBudget


def _compiled(rate):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
    return model


def _rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_time_budget_anneals_the_learning_rate_along_a_cosine():
    model = _compiled(0.1)
    budget = TimeBudget(minutes=1.0, anneal_learning_rate=True)
    budget.set_model(model)
    budget.on_train_begin()
    for seconds, expected in ((0.0, 0.1), (30.0, 0.05), (45.0, 0.1 * 0.5 * (1 - 0.5**0.5)),
                              (60.0, 0.0), (90.0, 0.0)):
        budget.elapsed = seconds
        budget.on_train_batch_begin(0)
        assert _rate(model) == pytest.approx(expected, abs=1e-7)


def test_time_budget_stops_training_and_counts_time():
    model = _compiled(0.01)
    budget = TimeBudget(minutes=1e-6)
    history = model.fit(keras.ops.zeros((64, 2)), keras.ops.zeros((64, 1)), batch_size=8,
                        epochs=3, verbose=0, callbacks=[budget])
    assert len(history.history["loss"]) == 1 and budget.elapsed > 0


def test_time_budget_rejects_a_schedule_and_a_non_positive_budget():
    with pytest.raises(ValueError, match="minutes must be positive"):
        TimeBudget(minutes=0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(0.1, 10)), loss="mse")
    budget = TimeBudget(minutes=1.0, anneal_learning_rate=True)
    budget.set_model(model)
    with pytest.raises(ValueError, match="needs a float learning rate"):
        budget.on_train_begin()


def test_peak_rss_of_a_child_is_its_own_not_its_parents():
    """`ru_maxrss` survives exec, so a small program started from a large process reported the
    parent's peak; `peak_rss_mb` reads the child's own high-water mark."""
    import subprocess
    import sys

    import numpy as np

    from l2l.training.measure import peak_rss_mb

    block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched: this process's peak grows by it
    child = subprocess.run(
        [sys.executable, "-c", "from l2l.training.measure import peak_rss_mb as p; print(p())"],
        capture_output=True, text=True, check=True)
    assert peak_rss_mb() >= block.nbytes / 2**20
    assert float(child.stdout) < 200, child.stdout  # the child alone: Python and numpy
