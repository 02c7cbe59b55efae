"""Transfer by activation: which weights are kept, the baselines, learning, pictures, errors."""

import keras
import numpy as np
import pytest

from l2l.systems.transfer import (
    fine_tune_copy,
    hidden_activations,
    kept_units,
    mlp,
    plot_unit_weights,
    scratch_copy,
    transfer_by_activation,
    transfer_with_masks,
)


@pytest.fixture(scope="module")
def source_and_target(digits):
    images, labels = digits
    labels = labels.astype("int64")
    source = labels < 5
    keras.utils.set_random_seed(0)
    model = mlp((28, 28), units=(32, 16), classes=5, input_scale=1 / 255)
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images[source], labels[source], batch_size=32, epochs=3, verbose=0)
    target = np.flatnonzero(~source)
    train, test = target[target % 6 == 0], target[target % 6 != 0]  # 10 per digit to train
    return model, (images[train], labels[train] - 5), (images[test], labels[test] - 5)


def test_kept_units_keep_their_weights_and_the_rest_is_new(source_and_target):
    model, (x, _), _ = source_and_target
    keras.utils.set_random_seed(1)
    new, masks = transfer_by_activation(model, x, keep_fraction=0.5, classes=5)
    old_layers = [model.get_layer(n) for n in ("hidden_0", "hidden_1", "logits")]
    new_layers = [new.get_layer(n) for n in ("hidden_0", "hidden_1", "logits")]
    assert [int(m.sum()) for m in masks] == [16, 8]
    for old, fresh, mask in zip(old_layers, new_layers, masks, strict=False):
        ok, nk = old.kernel.numpy(), fresh.kernel.numpy()
        np.testing.assert_array_equal(nk[:, mask], ok[:, mask])
        np.testing.assert_array_equal(fresh.bias.numpy()[mask], old.bias.numpy()[mask])
        assert not (nk[:, ~mask] == ok[:, ~mask]).any()
    assert not (new_layers[2].kernel.numpy() == old_layers[2].kernel.numpy()).any()
    activity = hidden_activations(model, x)[0].mean(axis=0)
    assert activity[masks[0]].min() >= activity[~masks[0]].max()


def test_baselines_keep_everything_or_nothing(source_and_target):
    model, _, _ = source_and_target
    old = model.get_layer("hidden_0").kernel.numpy()
    np.testing.assert_array_equal(fine_tune_copy(model, 3).get_layer("hidden_0").kernel, old)
    assert not (scratch_copy(model).get_layer("hidden_0").kernel.numpy() == old).any()
    assert fine_tune_copy(model, 3).output_shape == (None, 3)


def test_thresholds_select_units_by_mean_activation():
    a = [np.array([[0.0, 3.0, 1.0, 0.2], [0.0, 1.0, 1.0, 0.2]])]
    np.testing.assert_array_equal(kept_units(a, threshold=0.5)[0], [False, True, True, False])
    np.testing.assert_array_equal(kept_units(a, keep_fraction=0.25)[0], [False, True, False,
                                                                         False])
    assert kept_units(a, keep_fraction=0.0)[0].sum() == 0


def test_activation_transfer_learns_the_target_digits(source_and_target):
    model, (x, y), (x_test, y_test) = source_and_target
    keras.utils.set_random_seed(2)
    new, _ = transfer_by_activation(model, x, keep_fraction=0.5, classes=5)
    new.compile(keras.optimizers.Adam(3e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    new.fit(x, y, batch_size=10, epochs=15, verbose=0)
    accuracy = (new.predict(x_test, verbose=0).argmax(1) == y_test).mean()
    assert accuracy > 0.6, accuracy  # chance is 0.2; 10 images per digit to learn from


def test_kept_weights_are_drawn_as_images(source_and_target):
    model, _, _ = source_and_target
    fig = plot_unit_weights(model, np.arange(5), (28, 28), titles=list("abcde"), columns=4)
    assert len(fig.axes) == 8 and fig.axes[0].get_title() == "a"


def test_errors_are_named(source_and_target):
    model, (x, _), _ = source_and_target
    activations = hidden_activations(model, x)
    with pytest.raises(ValueError, match="exactly one of threshold"):
        kept_units(activations)
    with pytest.raises(ValueError, match="exactly one of threshold"):
        kept_units(activations, threshold=0.1, keep_fraction=0.5)
    with pytest.raises(ValueError, match="keep_fraction must be in"):
        kept_units(activations, keep_fraction=1.5)
    with pytest.raises(ValueError, match="NaN or infinite"):
        kept_units([np.array([[np.nan, 1.0]])], threshold=0.0)
    with pytest.raises(ValueError, match="one boolean"):
        transfer_with_masks(model, [np.ones(32, bool)])
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                             keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="needs Dense hidden layers"):
        fine_tune_copy(conv)
    with pytest.raises(ValueError, match="built keras.Sequential"):
        fine_tune_copy(keras.layers.Dense(3))
