import numpy as np
import pytest

from l2l.episodes import Episode


def make(b=3, s=4, q=5, d=2, **over):
    fields = dict(support_x=np.zeros((b, s, d), "float32"), support_y=np.zeros((b, s), "float32"),
                  query_x=np.zeros((b, q, d), "float32"), query_y=np.zeros((b, q), "float32"))
    fields.update(over)
    return Episode(**fields)


def test_shapes_and_default_mask():
    ep = make()
    assert (ep.batch_size, ep.support_size, ep.query_size) == (3, 4, 5)
    assert ep.support_mask.shape == (3, 4) and ep.support_mask.min() == 1.0
    inputs, y = ep.as_fit_data()
    assert set(inputs) == {"support_x", "support_y", "support_mask", "query_x"}
    assert y is ep.query_y


def test_select_and_concatenate_round_trip():
    ep = make(b=6, support_x=np.arange(6 * 4 * 2, dtype="float32").reshape(6, 4, 2))
    joined = Episode.concatenate([ep[:2], ep[2:]])
    np.testing.assert_array_equal(joined.support_x, ep.support_x)
    assert ep[3].batch_size == 1


@pytest.mark.parametrize("over, message", [
    (dict(query_y=np.zeros((2, 5), "float32")), "expected 3 episodes, as support_x"),
    (dict(support_y=np.zeros((3, 2), "float32")), "`Episode.support_y`: expected 4 examples"),
    (dict(query_x=np.zeros((3, 5, 7), "float32")), "same shape"),
    (dict(support_x=np.zeros((3, 0, 2), "float32"), support_y=np.zeros((3, 0), "float32")),
     "empty support set"),
    (dict(support_mask=np.zeros((3, 4), "float32")), "empty support set"),
    (dict(query_x=np.full((3, 5, 2), np.nan, "float32")), "NaN"),
    (dict(support_x=[[1.0]]), "numpy array"),
    (dict(query_y=np.zeros(3, "float32")), "shape \\[episodes, examples"),
])
def test_malformed_episodes_name_the_problem(over, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(**over)
