"""Recognition as reconstruction, MNIST 10-way: does the digit whose model redraws it best name it?

One MAML meta-model per digit (a 2 -> 64 -> 64 -> 64 -> 1 ReLU MLP over pixel positions, one
inner step of 0.1, Adam 1e-3, no XLA) is meta-trained for `steps` meta-updates of `batch_size`
images on images of its digit only, each image a task whose support set is `shots` = 100 of
its 784 pixels and whose `queries` = 200 other pixels are scored (`l2l.tasks.ImageAsDataset`).
A held-out image is shown to all ten as the same 100 pixels; the digit whose model, after
`test_steps` inner steps, reconstructs all 784 pixels with the lowest MSE is the answer
(`l2l.systems.reconstruction.ReconstructionClassifier`); its softmax temperature is calibrated on
`calibration_images` training images (it changes the NLL, not the accuracy).

Data: the 10,000 MNIST t10k images (`l2l.datasets.load_mnist`), rows cut 80/20 into train and
test by `fraction_split` with `benchmarks.common.EVALUATION_SEED` (`common.mnist_split`). Every
row is scored on the same `test_images` stored episodes (`stored_episodes`): held-out images
of digits 0..ways-1, 100 shown pixels each; `episodes` in a row is that number of images.

Which pixels each method reads: the reconstruction models adapt on the 100 shown pixels, but
their decision, the reconstruction MSE, is taken over all 784 pixels of the test image, so the
decision reads the whole image; `initialisation_only`, `nearest_class_mean`, `knn_all_pixels`
and `cnn_all_pixels` read all 784 pixels too (the same information). `knn_shown_pixels` and
`cnn_shown_pixels` read only the 100 shown pixels: less than the reconstruction rows do.

Rows, for each `train_images_per_class` (10 images per digit, and "all", about 800):
- `reconstruction`, one row per `test_steps` (1 and 5);
- baselines on the same images: `initialisation_only` (each digit model's initialisation,
  not adapted, i.e. the image it renders without seeing a pixel), `nearest_class_mean`
  (the digit whose mean training image, in pixel space, is nearest to all 784 pixels);
- `knn_all_pixels` / `knn_shown_pixels`: a majority vote of the k nearest training images in
  pixel space (squared distance over all pixels / over the 100 shown pixels; a tie goes to the
  class of the nearer neighbour). k is chosen from `knn_candidates` (1, 3, 5, 9, 15, 25) by
  leave-one-out accuracy on (up to 1,000 of) the training images alone, each shown as 100
  random pixels for the shown-pixel variant; the test images play no part
  (`l2l.systems.pixel_baselines.choose_k`);
- `cnn_all_pixels` / `cnn_shown_pixels`: a small CNN trained from scratch on the same
  training images (`l2l.systems.pixel_baselines.small_cnn`: random shifts of up to 2 pixels,
  3x3 conv 16 and 32 filters each with batch norm, ReLU and 2x2 max pooling, Dense 64 ReLU,
  Dense 10), Adam 1e-3 for `cnn_steps` = 500 updates of 32 images drawn at random (160 epochs
  of 100 images; 2 epochs of the ~8,000 of "all"), fixed beforehand, not tuned on the test
  images. The shown-pixel variant reads two channels, the shown intensities (0 elsewhere) and
  the mask, and trains on a fresh random 100-pixel view of every image in every batch.
Chance (1/ways) is a setting. Reconstruction rows carry paired differences with every
baseline (`vs_<baseline>`: per-image correctness, same images).

The picture (`settings["picture"]`, drawn above the accuracy bars): the model of digit
`picture_digit` (3) meta-trained on the first `train_images_per_class` setting, adapted for
the last `test_steps` (5) steps to the first three stored test images of that digit: the shown
pixels, its reconstruction, the original, and the hidden units of its first and last hidden
layers drawn over the pixel grid, before adaptation (the same for every image: a coordinate
MLP's initialisation does not depend on the image) and after it. The `picture_units` units
drawn per layer are those whose activations adaptation changes most (mean absolute change over
the pixels and the three images), each drawn on one scale before and after. Maps are stored as
rows of hex bytes (`decode_map`).

Budget: 2 training sets x 10 digits x 300 meta-updates plus scoring, about 5 minutes on 2 CPU
cores, plus about 2 minutes for the four CNNs and the k-NN searches (9.6 minutes in all at a
load average of 4-5 on the shared machine; quick: 2 digits, 10
images each, 10 meta-updates, 60 CNN updates, 30 test images). Not done: several seeds, longer
meta-training, more shown pixels, the 60,000 training images.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import (
    EVALUATION_SEED,
    PeakRSS,
    accuracy_bars,
    mnist_split,
    paired_difference,
    progress,
    row,
    stored_episodes,
    verdict_verb,
)

BASELINES = ("initialisation_only", "nearest_class_mean", "knn_all_pixels", "knn_shown_pixels",
             "cnn_all_pixels", "cnn_shown_pixels")
PICTURE_IMAGES = 3


def check_train_images(values) -> tuple[int | str, ...]:
    """`values` as a tuple of image counts (>= 1) or "all"; a clear ValueError otherwise."""
    checked = []
    for v in values:
        if v == "all":
            checked.append("all")
            continue
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"train_images_per_class entries must be integers >= 1 or 'all', "
                             f"got {v!r}.")
        checked.append(int(v))
    if not checked:
        raise ValueError("train_images_per_class is empty: give at least one count, e.g. 10.")
    return tuple(checked)


def encode_map(values: np.ndarray, scale: float = 1.0) -> list[str]:
    """An `[H, W]` map of values in [0, `scale`] (clipped) as `H` hex strings of 8-bit levels:
    what the picture keeps of it in the JSON.

    >>> encode_map(np.array([[0.0, 1.0], [0.5, 2.0]]))
    ['00ff', '80ff']
    >>> decode_map(['00ff', '80ff'], scale=2.0).round(2).tolist()
    [[0.0, 2.0], [1.0, 2.0]]
    """
    levels = np.rint(np.clip(np.asarray(values, "float64") / scale, 0.0, 1.0) * 255)
    return [bytes(r).hex() for r in levels.astype(np.uint8)]


def decode_map(rows: list[str], scale: float = 1.0) -> np.ndarray:
    """The `[H, W]` map `encode_map` wrote, in [0, `scale`] (to 1/255 of it)."""
    return np.stack([np.frombuffer(bytes.fromhex(r), np.uint8) for r in rows]) / 255.0 * scale


def adaptation_picture(model, test, truth: np.ndarray, predicted: np.ndarray,
                       errors: np.ndarray, digit: int, steps: int, units: int,
                       image_shape: tuple[int, int], pixel_index) -> dict:
    """The JSON record `plot` draws: `model` (digit `digit`'s meta-model) adapted to the first
    `PICTURE_IMAGES` test images of that digit; see the module docstring."""
    from l2l.systems.reconstruction import adaptation_trace

    chosen = np.flatnonzero(truth == digit)[:PICTURE_IMAGES]
    if chosen.size == 0:
        raise ValueError(f"picture_digit={digit} has no image among the test images; choose "
                         "another digit or more test_images.")
    episodes = test[chosen]
    trace = adaptation_trace(model, episodes, layers=(0, -1), steps=steps)
    hidden = []
    for name, before, after in zip(("first", "last"), trace["hidden_before"],
                                   trace["hidden_after"], strict=True):
        change = np.abs(after - before).mean(axis=(0, 1))
        picked = np.argsort(-change, kind="stable")[:units]
        scale = np.maximum(np.maximum(before[..., picked].max((0, 1)),
                                      after[..., picked].max((0, 1))), 1e-6)
        hidden.append({
            "layer": name, "units": picked.tolist(), "scale": scale.tolist(),
            "mean_change": change[picked].tolist(), "width": int(before.shape[-1]),
            "before": [encode_map(before[0, :, u].reshape(image_shape), s)
                       for u, s in zip(picked, scale, strict=True)],
            "after": [[encode_map(a[:, u].reshape(image_shape), s)
                       for u, s in zip(picked, scale, strict=True)] for a in after]})
    return {
        "digit": int(digit), "test_steps": int(steps), "episodes": chosen.tolist(),
        "predicted": predicted[chosen].tolist(),
        "own_error": errors[chosen, digit].tolist(),
        "shown": pixel_index(episodes.support_x).tolist(),
        "original": [encode_map(y.reshape(image_shape)) for y in episodes.query_y[..., 0]],
        "reconstruction": [encode_map(r.reshape(image_shape)) for r in trace["after"]],
        "initial_render": encode_map(trace["before"][0].reshape(image_shape)),
        "hidden": hidden,
        "encoding": "maps are rows of hex bytes: level / 255 * scale (images: scale 1, "
                    "clipped to [0, 1]); see benchmarks.reconstruction.decode_map",
    }


def run(quick: bool = False, seed: int = 0, *, ways: int | None = None,
        train_images_per_class: tuple[int | str, ...] | None = None, shots: int = 100,
        queries: int = 200, steps: int | None = None, batch_size: int = 16,
        inner_learning_rate: float = 0.1, test_steps: tuple[int, ...] | None = None,
        test_images: int | None = None, calibration_images: int | None = None,
        knn_candidates: tuple[int, ...] = (1, 3, 5, 9, 15, 25), cnn_steps: int | None = None,
        picture_digit: int | None = None, picture_units: int = 4,
        data_dir: str | None = None) -> dict:
    """Meta-train one model per digit for each training-set size; score it and the baselines."""
    import keras

    from l2l.algorithms import MAML
    from l2l.evaluation import mean_ci95
    from l2l.systems.pixel_baselines import (
        choose_k,
        cnn_inputs,
        nearest_neighbours,
        shown_masks,
        train_cnn,
    )
    from l2l.systems.reconstruction import ReconstructionClassifier, coordinate_mlp
    from l2l.tasks import ImageAsDataset

    ways = ways if ways is not None else (2 if quick else 10)
    per_class_options = check_train_images(
        train_images_per_class if train_images_per_class is not None
        else ((10,) if quick else (10, "all")))
    steps = steps if steps is not None else (10 if quick else 300)
    test_steps = tuple(test_steps) if test_steps is not None else ((1,) if quick else (1, 5))
    n_test = test_images if test_images is not None else (30 if quick else 500)
    n_calibration = calibration_images if calibration_images is not None else (
        30 if quick else 200)
    cnn_steps = cnn_steps if cnn_steps is not None else (60 if quick else 500)
    if not 2 <= ways <= 10:
        raise ValueError(f"ways must be 2..10 (digits 0..ways-1), got {ways}.")
    picture_digit = min(3, ways - 1) if picture_digit is None else picture_digit
    if not 0 <= picture_digit < ways:
        raise ValueError(f"picture_digit must be one of the digits 0..{ways - 1}, got "
                         f"{picture_digit}.")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("shots", shots),
                        ("queries", queries), ("test_images", n_test),
                        ("calibration_images", n_calibration), ("cnn_steps", cnn_steps),
                        ("picture_units", picture_units)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}.")
    if not test_steps or min(test_steps) < 1:
        raise ValueError(f"test_steps must list inner step counts >= 1, got {test_steps}.")
    if not knn_candidates or min(knn_candidates) < 1:
        raise ValueError(f"knn_candidates must list neighbour counts >= 1, got "
                         f"{knn_candidates}.")

    images, labels, all_train_rows, test_rows = mnist_split(data_dir)
    classes = list(range(ways))
    train_pool = all_train_rows[np.isin(labels[all_train_rows], classes)]
    fewest = int(np.bincount(labels[train_pool], minlength=ways)[:ways].min())
    for p in per_class_options:
        if p != "all" and p > fewest:
            raise ValueError(f"train_images_per_class={p} exceeds the {fewest} training images "
                             "of the rarest digit; use at most that many, or 'all'.")

    test_task = ImageAsDataset(images, labels, shots=shots, classes=classes, indices=test_rows)
    test_name = f"reconstruction-{ways}way-{shots}pixels"
    test = stored_episodes(test_task, test_name, n_test, "test")
    truth = test_task.fixed_episodes(n_test, EVALUATION_SEED, with_info=True)[1]["labels"]
    pixels = test.query_y[..., 0]  # every pixel of each test image ([n_test, 784])
    shown = shown_masks(test_task.pixel_index(test.support_x), pixels.shape[1])
    image_shape = tuple(int(d) for d in images.shape[1:3])
    scored_on = f"{test_name}-test-n{n_test}-seed{EVALUATION_SEED}"
    chance = 1.0 / ways

    def build():
        model = MAML(coordinate_mlp((64, 64, 64)), inner_steps=1,
                     inner_learning_rate=inner_learning_rate, test_steps=max(test_steps))
        # no XLA: compiling ten models costs more than it saves over 300 updates on CPU
        model.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
        return model

    rows, picture = [], None
    progress.plan(len(per_class_options))
    for per_class in per_class_options:
        rng = np.random.default_rng(seed)
        train_rows = train_pool if per_class == "all" else np.concatenate([
            rng.choice(train_pool[labels[train_pool] == c], per_class, replace=False)
            for c in classes])
        settings = {"train_images_per_class": per_class}
        progress.cell(f"{per_class} training images per class")
        common = dict(seed=seed, episodes=n_test, chance=chance, scored_on=scored_on,
                      train_images=int(len(train_rows)))
        with PeakRSS() as memory:
            keras.utils.set_random_seed(seed)
            classifier = ReconstructionClassifier(classes, build=build, shots=shots,
                                                  queries=queries)
            start = time.perf_counter()
            classifier.fit(images, labels, steps=steps, batch_size=batch_size, seed=seed,
                           indices=train_rows)
            train_seconds = time.perf_counter() - start
            calibration, calibration_info = ImageAsDataset(
                images, labels, shots=shots, classes=classes, indices=train_rows
            ).fixed_episodes(n_calibration, seed=seed + 1, with_info=True)

            adapted = []
            for k in test_steps:
                for model in classifier.models.values():
                    model.test_steps = k
                    model.predict_function = None
                errors = classifier.reconstruction_errors(test)
                classifier.calibrate(classifier.reconstruction_errors(calibration),
                                     calibration_info["labels"])
                p = classifier.predict_proba(test, errors=errors)
                own = errors[np.arange(n_test), truth]
                predicted = classifier.predict(test, errors=errors)
                adapted.append((k, predicted == truth, {
                    "temperature": classifier.temperature,
                    "test_nll": float(-np.log(np.maximum(p[np.arange(n_test), truth],
                                                         1e-12)).mean()),
                    "mean_error_own_class": float(own.mean()),
                    "mean_error_other_classes": float((errors.sum(1) - own).mean()
                                                      / (ways - 1)),
                }))
            if picture is None:  # the first training-set size, after max(test_steps) steps
                picture = {"train_images_per_class": per_class, **adaptation_picture(
                    classifier.models[picture_digit], test, truth, predicted, errors,
                    picture_digit, test_steps[-1], picture_units, image_shape,
                    test_task.pixel_index)}
            renders = np.stack([classifier.models[c].model.predict(
                test_task.coordinates, verbose=0)[:, 0] for c in classes])
            init_correct = np.argmin(((pixels[:, None] - renders[None]) ** 2).mean(-1),
                                     1) == truth
            baselines = {"initialisation_only": (init_correct, train_seconds, {})}
            train_pixels = images[train_rows].reshape(len(train_rows), -1) / 255
            train_labels = labels[train_rows]
            start = time.perf_counter()
            means = np.stack([train_pixels[train_labels == c].mean(0) for c in classes])
            mean_correct = np.argmin(((pixels[:, None] - means[None]) ** 2).mean(-1),
                                     1) == truth
            baselines["nearest_class_mean"] = (mean_correct, time.perf_counter() - start, {})
            for view, masks, view_shots in (("all_pixels", None, None),
                                            ("shown_pixels", shown, shots)):
                start = time.perf_counter()
                k, loo = choose_k(train_pixels, train_labels, knn_candidates, view_shots,
                                  seed=seed)
                correct = nearest_neighbours(train_pixels, train_labels, pixels, k,
                                             masks) == truth
                baselines[f"knn_{view}"] = (correct, time.perf_counter() - start, {
                    "k": k, "leave_one_out_accuracy": {str(c): a for c, a in loo.items()}})
                start = time.perf_counter()
                cnn = train_cnn(train_pixels.reshape(-1, *image_shape), train_labels,
                                steps=cnn_steps, shots=view_shots, seed=seed)
                cnn_seconds = time.perf_counter() - start
                logits = cnn.predict(cnn_inputs(pixels.reshape(-1, *image_shape), masks),
                                     verbose=0)
                baselines[f"cnn_{view}"] = (logits.argmax(1) == truth, cnn_seconds, {
                    "cnn_steps": cnn_steps,
                    "epochs": round(cnn_steps * 32 / len(train_rows), 1)})
        for k, correct, extra in adapted:
            mean, ci = mean_ci95(correct)
            rows.append(row(
                "reconstruction", "accuracy", mean, ci95=ci, train_seconds=train_seconds,
                memory=memory, settings={**settings, "test_steps": k}, **common, **extra,
                pixels_read=pixels.shape[1], pixels_adapted_on=shots,
                **{f"vs_{name}": paired_difference(correct, baselines[name][0])
                   for name in BASELINES}))
        for name in BASELINES:
            correct, seconds, extra = baselines[name]
            mean, ci = mean_ci95(correct)
            rows.append(row(name, "accuracy", mean, ci95=ci, train_seconds=seconds,
                            memory=memory, settings=settings, **common, **extra,
                            pixels_read=shots if name.endswith("shown_pixels")
                            else pixels.shape[1]))

    notes = [
        f"Every row is scored on the same {n_test} held-out images ({scored_on}); ± is the "
        f"95% interval over those images. Chance is {100 * chance:.0f}%.",
        f"pixels_read: the pixels of a test image a method's decision reads. The reconstruction "
        f"models adapt on the {shots} shown pixels but are scored on all {pixels.shape[1]}; "
        f"only the *_shown_pixels baselines read just the {shots} shown pixels.",
        "initialisation_only uses the meta-trained models (its train_seconds is theirs); "
        "nearest_class_mean's train_seconds is the time to average the training images, "
        "k-NN's the leave-one-out choice of k plus the search, the CNNs' their training.",
        "One seed; peak memory is per training-set size (all its rows share one measurement).",
    ]
    return {"rows": rows, "settings": {
        "ways": ways, "digits": classes, "chance": chance,
        "train_images_per_class": per_class_options, "shots": shots, "queries": queries,
        "steps": steps, "batch_size": batch_size, "inner_learning_rate": inner_learning_rate,
        "inner_steps_in_training": 1, "test_steps": test_steps, "test_images": n_test,
        "calibration_images": n_calibration, "network": "coordinate MLP 2-64-64-64-1 ReLU",
        "outer_optimizer": "Adam(1e-3)", "jit_compile": False,
        "knn_candidates": list(knn_candidates),
        "cnn": {"network": "l2l.systems.pixel_baselines.small_cnn: random shifts <= 2 px, "
                           "conv3x3(16)-BN-ReLU-pool, conv3x3(32)-BN-ReLU-pool, Dense 64 ReLU, "
                           f"Dense {ways}", "steps": cnn_steps, "batch_size": 32,
                "optimizer": "Adam(1e-3)"},
        "picture": picture,
        "data": {"source": "l2l.datasets.load_mnist(subset='test')", "images": len(images),
                 "split": "fraction_split 80/20, seed EVALUATION_SEED",
                 "train_rows": len(all_train_rows), "test_rows": len(test_rows),
                 "data_dir": data_dir},
    }, "notes": notes}


LABELS = {"initialisation_only": "initialisation only", "nearest_class_mean":
          "nearest class mean", "knn_all_pixels": "k-NN, all pixels", "knn_shown_pixels":
          "k-NN, shown pixels", "cnn_all_pixels": "CNN, all pixels", "cnn_shown_pixels":
          "CNN, shown pixels"}


def _label(r: dict) -> str:
    if r["method"] == "reconstruction":
        k = r["settings"]["test_steps"]
        return f"reconstruction, {k} step{'s' if k != 1 else ''}"
    return LABELS.get(r["method"], r["method"].replace("_", " "))


def _per_digit(r: dict) -> str:
    size = r["settings"]["train_images_per_class"]
    return "all training images" if size == "all" else f"{size} images per digit"


def plot_adaptation(picture: dict, fig) -> None:
    """Draw the adaptation `picture` (see `adaptation_picture`) into `fig` (a Figure or
    SubFigure): a row before adaptation, then one row per test image."""
    hidden = picture["hidden"]
    units = sum(len(h["units"]) for h in hidden)
    images = len(picture["original"])
    axes = fig.subplots(images + 1, 3 + units, squeeze=False)
    shape = decode_map(picture["initial_render"]).shape
    grey = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0, 1].imshow(decode_map(picture["initial_render"]), **grey)
    steps = picture["test_steps"]
    for i in range(images):
        original = decode_map(picture["original"][i])
        view = np.full(original.size, np.nan)
        index = np.asarray(picture["shown"][i])
        view[index] = original.reshape(-1)[index]
        shown_ax = axes[i + 1, 0]
        shown_ax.set_facecolor("#3b6ea5")
        shown_ax.imshow(view.reshape(shape), **grey)
        axes[i + 1, 1].imshow(decode_map(picture["reconstruction"][i]), **grey)
        axes[i + 1, 2].imshow(original, **grey)
        axes[i + 1, 0].set_ylabel(f"image {i + 1}: read as {picture['predicted'][i]}\n"
                                  f"error {picture['own_error'][i]:.3f}", fontsize=7)
    column = 3
    for h in hidden:
        for j, unit in enumerate(h["units"]):
            scale = h["scale"][j]
            axes[0, column].imshow(decode_map(h["before"][j], scale), cmap="magma",
                                   vmin=0, vmax=scale)
            axes[0, column].set_title(f"{h['layer']} hidden\nunit {unit}", fontsize=7)
            for i in range(images):
                axes[i + 1, column].imshow(decode_map(h["after"][i][j], scale), cmap="magma",
                                           vmin=0, vmax=scale)
            column += 1
    for ax, title in zip(axes[0, :3], ("shown pixels", "reconstruction", "original"),
                         strict=True):
        ax.set_title(title, fontsize=7)
    axes[0, 0].set_ylabel("before\nadaptation", fontsize=7)
    axes[0, 0].text(0.5, 0.5, f"{len(picture['shown'][0])} of {original.size}\npixels shown",
                    ha="center", va="center", fontsize=6, transform=axes[0, 0].transAxes)
    axes[0, 2].text(0.5, 0.5, "(the image)", ha="center", va="center", fontsize=6,
                    transform=axes[0, 2].transAxes)
    fig.suptitle(
        f"the digit-{picture['digit']} model ({picture['train_images_per_class']} training "
        f"images per digit), its initialisation (top) and after {steps} inner step"
        f"{'s' if steps != 1 else ''} on each image's shown pixels (unshown: blue); hidden "
        "units: each on one colour scale before and after", fontsize=8)


def plot(result: dict):
    """The adaptation picture above the accuracy (95% CI) per training-set size of
    reconstruction and every baseline."""
    import matplotlib.pyplot as plt

    s = result["settings"]
    fig = plt.figure(figsize=(13.0, 9.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.35, 1.0])
    if s.get("picture"):
        plot_adaptation(s["picture"], top)
    accuracy_bars(
        result["rows"], lambda r: str(r["settings"]["train_images_per_class"]),
        _label, chance=s["chance"], xlabel="training images per digit",
        title=f"recognition as reconstruction, MNIST {s['ways']}-way: {s['shots']} pixels "
              f"shown, {s['steps']} meta-updates per digit ({result['mode']} run, "
              f"{s['test_images']} held-out images; dotted: chance)",
        ax=bottom.subplots())
    return fig


def summarize(result: dict) -> str:
    """A table per training-set size, then reconstruction against each baseline, paired."""
    from benchmarks.readme import format_value

    rows, s = result["rows"], result["settings"]
    sizes = list(dict.fromkeys(r["settings"]["train_images_per_class"] for r in rows))
    columns = list(dict.fromkeys(_label(r) for r in rows))
    lines = ["| training images per digit | " + " | ".join(columns) + " |",
             "| --- " * (len(columns) + 1) + "|"]
    for size in sizes:
        by = {_label(r): r for r in rows if r["settings"]["train_images_per_class"] == size}
        lines.append(f"| {size} | " + " | ".join(
            format_value("accuracy", by[c]["mean"], by[c]["ci95"]) if c in by else "-"
            for c in columns) + " |")
    lines += ["", f"Accuracy on the same {s['test_images']} held-out images "
              f"({s['shots']} of 784 pixels shown; chance {100 * s['chance']:.0f}%). "
              "Every decision reads all 784 pixels of a test image (reconstruction: the "
              "error of its redrawing of all of them) except the two *shown pixels* "
              "baselines', which read only the shown ones. k of k-NN, by leave-one-out on "
              "the training images: " + ", ".join(
                  f"{_label(r)} with {_per_digit(r)}: k = {r['k']}"
                  for r in rows if "k" in r) + "."]
    recon = [r for r in rows if r["method"] == "reconstruction"]
    present = [b for b in BASELINES if any(f"vs_{b}" in r for r in recon)]
    lines += ["", "Reconstruction minus each baseline, percentage points, paired over the same "
                  "images (95% interval; the verdict needs the whole interval on one side of "
                  "zero):", "",
              "| reconstruction | " + " | ".join(LABELS[b] for b in present) + " |",
              "| --- " * (len(present) + 1) + "|"]
    for r in recon:
        cells = [f"{100 * r[f'vs_{b}']['difference']:+.1f} ± {100 * r[f'vs_{b}']['ci95']:.1f} "
                 f"({verdict_verb(r[f'vs_{b}'])})" for b in present]
        lines.append(f"| {_label(r)}, {_per_digit(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
