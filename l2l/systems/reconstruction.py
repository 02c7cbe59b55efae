"""Recognition as reconstruction: classify an image by which class's meta-model redraws it best.

An image is a dataset of pixels, `(row, col)` in [-1, 1] -> intensity
(`l2l.tasks.ImageAsDataset`). `ReconstructionClassifier` meta-trains one gradient-based
meta-learner (`l2l.algorithms`, MAML by default) per class, each only on images of its class,
so each learns an initialisation from which a few gradient steps on `K` pixels of an image of
its class reconstruct the whole image. A test image is shown, as `K` of its pixels, to every
class's meta-model; each adapts and redraws all pixels, and the class whose reconstruction
error (MSE over all pixels) is lowest wins. `softmax(-error / temperature)` gives class
probabilities; `calibrate` fits the temperature.

Typical use (MNIST, 10 classes, 100 pixels shown):

    classifier = ReconstructionClassifier(classes=range(10), shots=100)
    classifier.fit(images, labels, steps=300, indices=train_rows)
    test, info = ImageAsDataset(images, labels, shots=100, indices=test_rows).fixed_episodes(
        500, seed=0, with_info=True)
    print(classifier.evaluate(test, info["labels"]))

The decision rule itself, on given reconstruction errors:

>>> import numpy as np
>>> from l2l.systems.reconstruction import ReconstructionClassifier
>>> classifier = ReconstructionClassifier(classes=[3, 7], temperature=0.01)
>>> errors = np.array([[0.02, 0.05], [0.06, 0.03]])
>>> classifier.predict(None, errors=errors).tolist()
[3, 7]
>>> np.round(classifier.predict_proba(None, errors=errors), 3).tolist()
[[0.953, 0.047], [0.047, 0.953]]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence

import keras
import numpy as np

from l2l.algorithms import MAML, GradientMetaLearner
from l2l.algorithms.functional import batched_call
from l2l.episodes import Episode
from l2l.errors import InvalidTypeError, InvalidValueError
from l2l.evaluation import Score, mean_ci95, per_episode_mse
from l2l.tasks import ImageAsDataset
from l2l.training.atomic import write_json
from l2l.training.model_files import ModelNotFoundError, save_model


def coordinate_mlp(units: Sequence[int] = (64, 64, 64), channels: int = 1,
                   activation: str = "relu") -> keras.Sequential:
    """An MLP from a pixel position `(row, col)` to its `channels` intensities.

    >>> tuple(coordinate_mlp(units=(8,))(np.zeros((5, 2))).shape)
    (5, 1)
    """
    layers = [keras.Input((2,))]
    layers += [keras.layers.Dense(u, activation=activation) for u in units]
    layers.append(keras.layers.Dense(channels))
    return keras.Sequential(layers)


def default_meta_model() -> GradientMetaLearner:
    """MAML (one inner step of 0.1) around a `coordinate_mlp`, compiled with Adam(1e-3)."""
    model = MAML(coordinate_mlp(), inner_steps=1, inner_learning_rate=0.1)
    model.compile(keras.optimizers.Adam(1e-3))
    return model


def hidden_activations(meta_model: GradientMetaLearner, params: list, x,
                       layers: Sequence[int] = (0, -1)) -> list[np.ndarray]:
    """`[B, n, units]` outputs of hidden Dense `layers` (indices among the hidden layers of
    the wrapped `keras.Sequential`, the output layer excluded) for inputs `x [B, n, ...]`,
    with per-episode `params` (`Adaptation.params`)."""
    model = meta_model.model
    dense = [i for i, layer in enumerate(model.layers)
             if isinstance(layer, keras.layers.Dense)][:-1]
    if not isinstance(model, keras.Sequential) or not dense:
        raise InvalidTypeError(f"hidden_activations needs a keras.Sequential with Dense hidden "
                               f"layers (e.g. coordinate_mlp), got {type(model).__name__}.")
    outputs = []
    for layer in layers:
        if not -len(dense) <= layer < len(dense):
            raise InvalidValueError(f"layers must index the {len(dense)} hidden Dense layers "
                                    f"(0..{len(dense) - 1}, or negative), got {layer}.")
        head = keras.Sequential([keras.Input(model.input_shape[1:]),
                                 *model.layers[:dense[layer] + 1]])
        outputs.append(np.asarray(batched_call(
            head, params[:len(head.trainable_variables)],
            keras.ops.convert_to_tensor(x, model.trainable_variables[0].dtype))))
    return outputs


def adaptation_trace(meta_model: GradientMetaLearner, episodes: Episode,
                     layers: Sequence[int] = (0, -1), steps: int | None = None) -> dict:
    """What one meta-model makes of each episode, before and after adapting to its support set.

    Returns `before` and `after` (`[B, n]` predictions on the queries, first output channel:
    the initialisation's render, then the reconstruction after `steps` inner steps,
    `meta_model.test_steps` if None) and `hidden_before`, `hidden_after` (one `[B, n, units]`
    array per entry of `layers`, see `hidden_activations`). With `queries="all"` episodes
    (`ImageAsDataset`) each `[n]` is an image in raster order.

    >>> from l2l.algorithms import MAML
    >>> task = ImageAsDataset(np.zeros((2, 4, 4)), shots=5)
    >>> trace = adaptation_trace(MAML(coordinate_mlp((8, 6))), task.fixed_episodes(2, seed=0))
    >>> trace["after"].shape, [h.shape for h in trace["hidden_after"]]
    ((2, 16), [(2, 16, 8), (2, 16, 6)])
    """
    inputs = episodes.inputs()
    trace = {}
    for when, k in (("before", 0), ("after", steps)):
        params = meta_model.adapt(inputs, steps=k).params
        trace[when] = np.asarray(meta_model.call_with_params(params, episodes.query_x))[..., 0]
        trace[f"hidden_{when}"] = hidden_activations(meta_model, params, episodes.query_x,
                                                     layers)
    return trace


class ReconstructionClassifier:
    """One reconstruction meta-model per class; the best reconstruction names the class.

    Args:
        classes: the class labels, one meta-model each.
        build: makes a fresh meta-model (a `GradientMetaLearner`, compiled or not: an
            uncompiled one is compiled with Adam(1e-3)); `default_meta_model` if None.
        shots: pixels of an image shown to the meta-models in training.
        queries: random pixels of the same image scored in training.
        temperature: of `softmax(-reconstruction MSE / temperature)`.
    """

    def __init__(self, classes: Sequence[int], build: Callable[[], GradientMetaLearner] | None
                 = None, shots: int = 100, queries: int = 200, temperature: float = 0.01):
        self.classes = [int(c) for c in classes]
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise InvalidValueError(
                f"classes must list at least two distinct labels, got {classes!r}.")
        if not temperature > 0:
            raise InvalidValueError(f"temperature must be > 0, got {temperature!r}.")
        self.build = build or default_meta_model
        self.shots, self.queries, self.temperature = shots, queries, float(temperature)
        self.models: dict[int, GradientMetaLearner] = {}

    def fit(self, images: np.ndarray, labels: np.ndarray, steps: int = 300,
            batch_size: int = 16, seed: int = 0, indices: np.ndarray | None = None,
            verbose: int = 0, callbacks=None) -> dict[int, keras.callbacks.History]:
        """Meta-train every class's model for `steps` meta-updates on its own images.

        `indices` restricts training to those rows of `images` (keep test images out).
        """
        histories = {}
        for c in self.classes:
            task = ImageAsDataset(images, labels, shots=self.shots, queries=self.queries,
                                  classes=[c], indices=indices)
            model = self.build()
            if not isinstance(model, GradientMetaLearner):
                raise InvalidTypeError(
                    f"build() must return an l2l.algorithms GradientMetaLearner, "
                                f"got {type(model).__name__}.")
            if not model.compiled:
                model.compile(keras.optimizers.Adam(1e-3))
            histories[c] = model.fit(task.dataset(batch_size, seed=seed + c),
                                     steps_per_epoch=steps, verbose=verbose,
                                     callbacks=callbacks)
            self.models[c] = model
        return histories

    def reconstruction_errors(self, episodes: Episode, batch_size: int = 100) -> np.ndarray:
        """`[B, classes]`: every class model's MSE on the queries after adapting on the
        support pixels of each episode (one image per episode)."""
        missing = [c for c in self.classes if c not in self.models]
        if missing:
            raise InvalidValueError(
                f"No meta-model for classes {missing}: call fit() or load() first.")
        return np.stack([
            per_episode_mse(self.models[c].predict(episodes.inputs(), batch_size=batch_size,
                                                   verbose=0), episodes.query_y)
            for c in self.classes], axis=1)

    def predict_proba(self, episodes: Episode, errors: np.ndarray | None = None) -> np.ndarray:
        """`[B, classes]` probabilities, `softmax(-error / temperature)`."""
        errors = self.reconstruction_errors(episodes) if errors is None else errors
        logits = -errors / self.temperature
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, episodes: Episode, errors: np.ndarray | None = None) -> np.ndarray:
        """`[B]` predicted class labels (the best reconstruction)."""
        errors = self.reconstruction_errors(episodes) if errors is None else errors
        return np.asarray(self.classes)[errors.argmin(axis=1)]

    def evaluate(self, episodes: Episode, labels: np.ndarray,
                 errors: np.ndarray | None = None) -> Score:
        """Accuracy over the episodes' images, with its 95% confidence interval."""
        correct = (self.predict(episodes, errors) == np.asarray(labels)).astype("float64")
        mean, ci = mean_ci95(correct)
        return Score("accuracy", mean, ci, len(correct))

    def calibrate(self, errors: np.ndarray, labels: np.ndarray) -> float:
        """Set `temperature` to the value (log-spaced grid) that maximises the likelihood of
        `labels` under `softmax(-errors / temperature)`; returns it."""
        index = np.searchsorted(self.classes, labels) if self.classes == sorted(
            self.classes) else np.array([self.classes.index(int(v)) for v in labels])
        best, best_ll = self.temperature, -np.inf
        for t in np.geomspace(1e-5, 10.0, 121):
            logits = -errors / t
            logits = logits - logits.max(axis=1, keepdims=True)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            ll = log_p[np.arange(len(index)), index].mean()
            if ll > best_ll:
                best, best_ll = float(t), ll
        self.temperature = best
        return best

    def save(self, directory: str | os.PathLike) -> None:
        """Write each class's model as `class_<c>.keras` and the settings as `classifier.json`,
        each atomically (`l2l.training`), so an interrupted save keeps the previous files."""
        for c, model in self.models.items():
            save_model(model, os.path.join(directory, f"class_{c}.keras"))
        write_json(os.path.join(directory, "classifier.json"),
                   {"classes": self.classes, "shots": self.shots, "queries": self.queries,
                    "temperature": self.temperature})

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ReconstructionClassifier:
        """The classifier `save` wrote to `directory`."""
        path = os.path.join(directory, "classifier.json")
        if not os.path.exists(path):
            raise ModelNotFoundError(f"{path} not found: not a directory written by "
                                    "ReconstructionClassifier.save().")
        with open(path) as f:
            settings = json.load(f)
        classifier = cls(**settings)
        for c in classifier.classes:
            classifier.models[c] = keras.models.load_model(
                os.path.join(directory, f"class_{c}.keras"))
        return classifier
