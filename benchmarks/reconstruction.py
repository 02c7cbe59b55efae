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

Rows, for each `train_images_per_class` (10 images per digit, and "all", about 800):
- `reconstruction`, one row per `test_steps` (1 and 5);
- baselines on the same images: `initialisation_only` (each digit model's initialisation,
  not adapted, i.e. the image it renders without seeing a pixel) and `nearest_class_mean`
  (the digit whose mean training image, in pixel space, is nearest to all 784 pixels). Chance
  (1/ways) is a setting. Reconstruction rows carry paired differences with both baselines
  (`vs_nearest_class_mean`, `vs_initialisation_only`: per-image correctness, same images).

Budget: 2 training sets x 10 digits x 300 meta-updates plus scoring, about 5 minutes on 2 CPU
cores (quick: 3 digits, 10 images each, 10 meta-updates, 30 test images). Not done: several
seeds, longer meta-training, more shown pixels, the 60,000 training images.
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
    verdict,
)

BASELINES = ("initialisation_only", "nearest_class_mean")


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


def run(quick: bool = False, seed: int = 0, *, ways: int | None = None,
        train_images_per_class: tuple[int | str, ...] | None = None, shots: int = 100,
        queries: int = 200, steps: int | None = None, batch_size: int = 16,
        inner_learning_rate: float = 0.1, test_steps: tuple[int, ...] | None = None,
        test_images: int | None = None, calibration_images: int | None = None,
        data_dir: str | None = None) -> dict:
    """Meta-train one model per digit for each training-set size; score it and the baselines."""
    import keras

    from l2l.algorithms import MAML
    from l2l.evaluation import mean_ci95
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
    if not 2 <= ways <= 10:
        raise ValueError(f"ways must be 2..10 (digits 0..ways-1), got {ways}.")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("shots", shots),
                        ("queries", queries), ("test_images", n_test),
                        ("calibration_images", n_calibration)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}.")
    if not test_steps or min(test_steps) < 1:
        raise ValueError(f"test_steps must list inner step counts >= 1, got {test_steps}.")

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
    scored_on = f"{test_name}-test-n{n_test}-seed{EVALUATION_SEED}"
    chance = 1.0 / ways

    def build():
        model = MAML(coordinate_mlp((64, 64, 64)), inner_steps=1,
                     inner_learning_rate=inner_learning_rate, test_steps=max(test_steps))
        # no XLA: compiling ten models costs more than it saves over 300 updates on CPU
        model.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
        return model

    rows = []
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
                correct = classifier.predict(test, errors=errors) == truth
                adapted.append((k, correct, {
                    "temperature": classifier.temperature,
                    "test_nll": float(-np.log(np.maximum(p[np.arange(n_test), truth],
                                                         1e-12)).mean()),
                    "mean_error_own_class": float(own.mean()),
                    "mean_error_other_classes": float((errors.sum(1) - own).mean()
                                                      / (ways - 1)),
                }))
            renders = np.stack([classifier.models[c].model.predict(
                test_task.coordinates, verbose=0)[:, 0] for c in classes])
            init_correct = np.argmin(((pixels[:, None] - renders[None]) ** 2).mean(-1),
                                     1) == truth
            start = time.perf_counter()
            means = np.stack([images[train_rows][labels[train_rows] == c].reshape(
                -1, pixels.shape[1]).mean(0) / 255 for c in classes])
            mean_correct = np.argmin(((pixels[:, None] - means[None]) ** 2).mean(-1),
                                     1) == truth
            mean_seconds = time.perf_counter() - start
        for k, correct, extra in adapted:
            mean, ci = mean_ci95(correct)
            rows.append(row(
                "reconstruction", "accuracy", mean, ci95=ci, train_seconds=train_seconds,
                memory=memory, settings={**settings, "test_steps": k}, **common, **extra,
                vs_nearest_class_mean=paired_difference(correct, mean_correct),
                vs_initialisation_only=paired_difference(correct, init_correct)))
        for name, correct, seconds in (("initialisation_only", init_correct, train_seconds),
                                       ("nearest_class_mean", mean_correct, mean_seconds)):
            mean, ci = mean_ci95(correct)
            rows.append(row(name, "accuracy", mean, ci95=ci, train_seconds=seconds,
                            memory=memory, settings=settings, **common))

    notes = [
        f"Every row is scored on the same {n_test} held-out images ({scored_on}); ± is the "
        f"95% interval over those images. Chance is {100 * chance:.0f}%.",
        "initialisation_only uses the meta-trained models (its train_seconds is theirs); "
        "nearest_class_mean's train_seconds is the time to average the training images.",
        "One seed; peak memory is per training-set size (all its rows share one measurement).",
    ]
    return {"rows": rows, "settings": {
        "ways": ways, "digits": classes, "chance": chance,
        "train_images_per_class": per_class_options, "shots": shots, "queries": queries,
        "steps": steps, "batch_size": batch_size, "inner_learning_rate": inner_learning_rate,
        "inner_steps_in_training": 1, "test_steps": test_steps, "test_images": n_test,
        "calibration_images": n_calibration, "network": "coordinate MLP 2-64-64-64-1 ReLU",
        "outer_optimizer": "Adam(1e-3)", "jit_compile": False,
        "data": {"source": "l2l.datasets.load_mnist(subset='test')", "images": len(images),
                 "split": "fraction_split 80/20, seed EVALUATION_SEED",
                 "train_rows": len(all_train_rows), "test_rows": len(test_rows),
                 "data_dir": data_dir},
    }, "notes": notes}


def _label(r: dict) -> str:
    if r["method"] == "reconstruction":
        k = r["settings"]["test_steps"]
        return f"reconstruction, {k} step{'s' if k != 1 else ''}"
    return r["method"].replace("_", " ")


def plot(result: dict):
    """Accuracy (95% CI) per training-set size: reconstruction and the two baselines."""
    s = result["settings"]
    return accuracy_bars(
        result["rows"], lambda r: str(r["settings"]["train_images_per_class"]),
        _label, chance=s["chance"], xlabel="training images per digit",
        title=f"recognition as reconstruction, MNIST {s['ways']}-way\n{s['shots']} pixels "
              f"shown, {s['steps']} meta-updates per digit ({result['mode']} run,\n"
              f"{s['test_images']} held-out images; dotted: chance)")


def summarize(result: dict) -> str:
    """A table per training-set size, then whether reconstruction beats each baseline."""
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
              f"({s['shots']} of 784 pixels shown; chance {100 * s['chance']:.0f}%)."]
    for r in rows:
        if r["method"] != "reconstruction":
            continue
        where = f"with {r['settings']['train_images_per_class']} training images per digit"
        for baseline in BASELINES:
            if f"vs_{baseline}" in r:
                lines.append(f"- {where}: " + verdict(
                    _label(r), baseline.replace("_", " "), r[f"vs_{baseline}"]) + ".")
    return "\n".join(lines)
