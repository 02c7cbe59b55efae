"""Transfer by activation: keep the hidden units that the new data switches on, free the rest.

An MLP trained on a source task (say MNIST digits 0-4) meets new data (digits 5-9). Hidden units
whose mean activation on the new data exceeds a threshold respond to it: their incoming weights
are kept. The others are silent on the new data: they are re-initialised, free to learn new
features. The output layer is always new (the target task has its own classes). Then the whole
network trains on the (small) target data. `fine_tune_copy` (keep every unit) and
`scratch_copy` (keep none) are the two baselines.

Example:

>>> import numpy as np, keras
>>> from l2l.systems.transfer import mlp, transfer_by_activation
>>> keras.utils.set_random_seed(0)
>>> source = mlp((4,), units=(6,), classes=3)
>>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
>>> target, kept = transfer_by_activation(source, x, keep_fraction=0.5, classes=2)
>>> [int(k.sum()) for k in kept], target.output_shape
([3], (None, 2))
>>> old, new = source.get_layer("hidden_0").kernel, target.get_layer("hidden_0").kernel
>>> bool(np.array_equal(old.numpy()[:, kept[0]], new.numpy()[:, kept[0]]))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from l2l.errors import InvalidValueError


def mlp(input_shape: Sequence[int], units: Sequence[int] = (256,), classes: int = 10,
        input_scale: float | None = None) -> keras.Sequential:
    """A ReLU MLP classifier (logits out): optional rescaling, flatten, Dense hidden layers."""
    layers = [keras.Input(tuple(input_shape))]
    if input_scale is not None:
        layers.append(keras.layers.Rescaling(input_scale))
    layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(u, activation="relu", name=f"hidden_{i}")
               for i, u in enumerate(units)]
    layers.append(keras.layers.Dense(classes, name="logits"))
    return keras.Sequential(layers)


def _dense_layers(model: keras.Model) -> list:
    if not isinstance(model, keras.Sequential) or not model.built:
        raise InvalidValueError("Transfer by activation works on a built keras.Sequential MLP (see "
                         f"l2l.systems.transfer.mlp), got {type(model).__name__}"
                         f"{'' if getattr(model, 'built', False) else ' (not built)'}.")
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    others = [layer for layer in model.layers if not isinstance(
        layer, (keras.layers.Dense, keras.layers.Flatten, keras.layers.Rescaling))]
    if len(dense) < 2 or others:
        raise InvalidValueError(
            "Transfer by activation needs Dense hidden layers and a Dense output "
                         "layer (Flatten/Rescaling allowed in front); got layers "
                         f"{[type(layer).__name__ for layer in model.layers]}.")
    return dense


def hidden_activations(model: keras.Sequential, x: np.ndarray,
                       batch_size: int = 512) -> list[np.ndarray]:
    """The `[N, units]` activations of every hidden Dense layer of `model` on `x`."""
    dense = _dense_layers(model)
    probe = keras.Model(model.inputs, [layer.output for layer in dense[:-1]])
    out = probe.predict(x, batch_size=batch_size, verbose=0)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def kept_units(activations: list[np.ndarray], threshold: float | None = None,
               keep_fraction: float | None = None) -> list[np.ndarray]:
    """Boolean masks of the units to keep, one per hidden layer.

    A unit is kept when its mean activation over the examples exceeds `threshold`, or, with
    `keep_fraction`, when it is among the `keep_fraction` most active units of its layer.

    >>> kept_units([np.array([[0.0, 2.0, 0.5], [0.0, 1.0, 0.1]])], threshold=0.2)
    [array([False,  True,  True])]
    """
    if (threshold is None) == (keep_fraction is None):
        raise InvalidValueError(
            "Give exactly one of threshold (a mean activation) and keep_fraction "
                         "(the share of most active units to keep).")
    if keep_fraction is not None and not 0.0 <= keep_fraction <= 1.0:
        raise InvalidValueError(f"keep_fraction must be in [0, 1], got {keep_fraction!r}.")
    masks = []
    for a in activations:
        mean = np.asarray(a).mean(axis=0)
        if not np.isfinite(mean).all():
            raise InvalidValueError("Hidden activations contain NaN or infinite values: check the "
                             "source model and the data.")
        if threshold is not None:
            masks.append(mean > threshold)
        else:
            keep = int(round(keep_fraction * mean.size))
            mask = np.zeros(mean.size, bool)
            mask[np.argsort(-mean, kind="stable")[:keep]] = True
            masks.append(mask)
    return masks


def _fresh_copy(model: keras.Sequential, classes: int | None) -> keras.Sequential:
    """The same architecture with freshly initialised weights and `classes` outputs."""
    config = model.get_config()
    if classes is not None:
        last = config["layers"][-1]["config"]
        last["units"] = int(classes)
    copy = keras.Sequential.from_config(config)
    if not copy.built:
        copy.build(model.input_shape)
    return copy


def transfer_with_masks(model: keras.Sequential, masks: list[np.ndarray],
                        classes: int | None = None) -> keras.Sequential:
    """A copy of `model` keeping the incoming weights (kernel column and bias) of the hidden
    units in `masks`, everything else freshly initialised, with a new `classes`-way head."""
    dense = _dense_layers(model)
    if len(masks) != len(dense) - 1 or any(
            m.shape != (layer.units,) for m, layer in zip(masks, dense, strict=False)):
        raise InvalidValueError(f"masks must hold one boolean [units] array per hidden layer "
                         f"({[layer.units for layer in dense[:-1]]}), got "
                         f"{[np.shape(m) for m in masks]}.")
    copy = _fresh_copy(model, classes)
    for old, new, mask in zip(dense[:-1], _dense_layers(copy)[:-1], masks, strict=True):
        kernel, bias = new.kernel.numpy(), new.bias.numpy()
        kernel[:, mask] = old.kernel.numpy()[:, mask]
        bias[mask] = old.bias.numpy()[mask]
        new.kernel.assign(kernel)
        new.bias.assign(bias)
    return copy


def transfer_by_activation(model: keras.Sequential, x: np.ndarray,
                           threshold: float | None = None, keep_fraction: float | None = None,
                           classes: int | None = None) -> tuple[keras.Sequential, list]:
    """`(new model, kept-unit masks)`: units active on `x` keep their weights (see module)."""
    masks = kept_units(hidden_activations(model, x), threshold, keep_fraction)
    return transfer_with_masks(model, masks, classes), masks


def fine_tune_copy(model: keras.Sequential, classes: int | None = None) -> keras.Sequential:
    """Every hidden unit kept, a new head: plain fine-tuning's starting point."""
    dense = _dense_layers(model)
    return transfer_with_masks(model, [np.ones(d.units, bool) for d in dense[:-1]], classes)


def scratch_copy(model: keras.Sequential, classes: int | None = None) -> keras.Sequential:
    """No unit kept: the same architecture trained from scratch."""
    dense = _dense_layers(model)
    return transfer_with_masks(model, [np.zeros(d.units, bool) for d in dense[:-1]], classes)


def plot_unit_weights(model: keras.Sequential, units: np.ndarray, image_shape: Sequence[int],
                      titles: Sequence[str] | None = None, columns: int = 8,
                      title: str | None = None):
    """The incoming weights of first-hidden-layer `units`, each drawn as an image."""
    from l2l.viz import plt  # pyplot on the Agg backend, as every l2l figure

    kernel = _dense_layers(model)[0].kernel.numpy()
    units = np.asarray(units)
    rows = max(1, int(np.ceil(len(units) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.45 * rows + 0.4),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(units):
            ax.axis("off")
            continue
        w = kernel[:, units[i]].reshape(tuple(image_shape))
        limit = np.abs(w).max() or 1.0
        ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
