"""Label smoothing on integer labels (`l2l.losses.SmoothedSparseCrossentropy`)."""

import keras
import numpy as np
import pytest

from l2l.compiling import compile_classification
from l2l.errors import InvalidValueError
from l2l.losses import SmoothedSparseCrossentropy


def _logits_and_labels(seed=0, shape=(4, 6), classes=5):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(*shape, classes)).astype("float32"),
            rng.integers(0, classes, shape).astype("int32"))


def test_no_smoothing_is_the_sparse_cross_entropy():
    logits, labels = _logits_and_labels()
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    np.testing.assert_allclose(float(SmoothedSparseCrossentropy(0.0)(labels, logits)),
                               float(plain), rtol=1e-5)


def test_smoothing_matches_the_smoothed_target_by_hand():
    logits, labels = _logits_and_labels(seed=1)
    eps, classes = 0.2, logits.shape[-1]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    target = np.full(logits.shape, eps / classes)
    np.put_along_axis(target, labels[..., None], 1 - eps + eps / classes, axis=-1)
    expected = -(target * log_p).sum(-1).mean()
    np.testing.assert_allclose(float(SmoothedSparseCrossentropy(eps)(labels, logits)),
                               expected, rtol=1e-5)


def test_bad_smoothing_is_named_and_a_compiled_model_round_trips(tmp_path):
    for bad in (1.0, -0.1, True, "0.1"):
        with pytest.raises(InvalidValueError, match="label_smoothing"):
            SmoothedSparseCrossentropy(bad)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    with pytest.raises(InvalidValueError, match="label_smoothing"):
        compile_classification(model, loss="mse", label_smoothing=0.1)
    compile_classification(model, label_smoothing=0.1)
    x, y = np.ones((8, 3), "float32"), np.arange(8) % 4
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "smoothed.keras")
    loaded = keras.models.load_model(tmp_path / "smoothed.keras")
    assert isinstance(loaded.loss, SmoothedSparseCrossentropy)
    assert loaded.loss.label_smoothing == pytest.approx(0.1)
