"""Recognition as reconstruction on MNIST, 10-way: does the best reconstruction name the digit?

One MAML meta-model per digit (a 2 -> 64 -> 64 -> 64 -> 1 ReLU MLP over pixel positions,
one inner step of 0.1) is meta-trained on images of its digit only, each image a task whose
support set is 100 of its 784 pixels (`l2l.tasks.ImageAsDataset`). A held-out image is shown
to all ten as the same 100 pixels; the digit whose model reconstructs all 784 pixels with the
lowest MSE after adapting is the answer (`l2l.reconstruction.ReconstructionClassifier`).

Two training regimes: few examples (10 images per digit) and every training image (about 800
per digit). Baselines on the same held-out images: chance (10%), each class model's
initialisation without adaptation (its rendered mean image), and the nearest class-mean image
in pixel space from the same training images.

    python benchmarks/standalone/reconstruction_mnist.py            # the committed result (~10 min)
    python benchmarks/standalone/reconstruction_mnist.py --quick    # a smoke test

MNIST is read from $L2L_DATA_DIR (the 10,000 t10k images; 80% train rows, 20% test rows,
split by `fraction_split` with the seed).
Writes `benchmarks/standalone/results/reconstruction_mnist.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import keras
import numpy as np

from l2l.algorithms import MAML
from l2l.datasets import load_mnist
from l2l.evaluation import mean_ci95
from l2l.reconstruction import ReconstructionClassifier, coordinate_mlp
from l2l.tasks import ImageAsDataset
from l2l.tasks.base import fraction_split

sys.path.insert(0, os.path.dirname(__file__))
from provenance import commit, machine  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--ways", type=int, default=10, help="digits 0..ways-1")
    p.add_argument("--train-images", nargs="+", default=["10", "all"],
                   help="training images per digit, one run each ('all' for every one)")
    p.add_argument("--shots", type=int, default=100, help="pixels shown per image")
    p.add_argument("--queries", type=int, default=200, help="pixels scored per training task")
    p.add_argument("--steps", type=int, default=300, help="meta-updates per digit")
    p.add_argument("--batch-size", type=int, default=16, help="images per meta-update")
    p.add_argument("--inner-lr", type=float, default=0.1)
    p.add_argument("--test-steps", type=int, nargs="+", default=[1, 5])
    p.add_argument("--test-images", type=int, default=500)
    p.add_argument("--calibration-images", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                    "reconstruction_mnist.json"))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.ways, args.steps, args.test_images, args.train_images = 3, 20, 60, ["10"]
        args.calibration_images = 30
    return args


def accuracy(predicted, labels):
    mean, ci = mean_ci95((np.asarray(predicted) == np.asarray(labels)).astype("float64"))
    return {"mean": mean, "ci95": ci}


def run(args, images, labels, train_rows, test_rows, per_class):
    rng = np.random.default_rng(args.seed)
    classes = list(range(args.ways))
    if per_class != "all":
        train_rows = np.concatenate([
            rng.choice(train_rows[labels[train_rows] == c], int(per_class), replace=False)
            for c in classes])
    train_rows = train_rows[np.isin(labels[train_rows], classes)]

    def build():
        model = MAML(coordinate_mlp((64, 64, 64)), inner_steps=1,
                     inner_learning_rate=args.inner_lr, test_steps=max(args.test_steps))
        # no XLA: compiling ten models costs more than it saves over 300 updates on CPU
        model.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
        return model

    keras.utils.set_random_seed(args.seed)
    classifier = ReconstructionClassifier(classes, build=build, shots=args.shots,
                                          queries=args.queries)
    start = time.perf_counter()
    classifier.fit(images, labels, steps=args.steps, batch_size=args.batch_size,
                   seed=args.seed, indices=train_rows)
    train_seconds = time.perf_counter() - start

    test_task = ImageAsDataset(images, labels, shots=args.shots, classes=classes,
                               indices=test_rows)
    test, info = test_task.fixed_episodes(args.test_images, seed=args.seed, with_info=True)
    calibration, calibration_info = ImageAsDataset(
        images, labels, shots=args.shots, classes=classes, indices=train_rows
    ).fixed_episodes(args.calibration_images, seed=args.seed + 1, with_info=True)
    truth = info["labels"]
    results = {"train_images_per_class": per_class, "train_images": int(len(train_rows)),
               "train_seconds": round(train_seconds, 1)}
    for steps in args.test_steps:
        for model in classifier.models.values():
            model.test_steps = steps
            model.predict_function = None
        errors = classifier.reconstruction_errors(test)
        classifier.calibrate(classifier.reconstruction_errors(calibration),
                             calibration_info["labels"])
        p = classifier.predict_proba(test, errors=errors)
        nll = -np.log(np.maximum(p[np.arange(len(truth)), truth], 1e-12)).mean()
        own = errors[np.arange(len(truth)), truth]
        results[f"adapted_{steps}_steps"] = {
            **accuracy(classifier.predict(test, errors=errors), truth),
            "temperature": classifier.temperature, "test_nll": float(nll),
            "mean_error_own_class": float(own.mean()),
            "mean_error_other_classes": float((errors.sum(1) - own).mean() / (len(classes) - 1)),
        }
        print(per_class, steps, "steps", results[f"adapted_{steps}_steps"], flush=True)
    pixels = test.query_y[..., 0]
    renders = np.stack([classifier.models[c].model.predict(test_task.coordinates, verbose=0)[:, 0]
                        for c in classes])
    init_errors = ((pixels[:, None, :] - renders[None]) ** 2).mean(-1)
    results["initialisation_only"] = accuracy(np.argmin(init_errors, 1), truth)
    means = np.stack([images[train_rows][labels[train_rows] == c].reshape(-1, 784).mean(0) / 255
                      for c in classes])
    mean_errors = ((pixels[:, None, :] - means[None]) ** 2).mean(-1)
    results["nearest_class_mean"] = accuracy(np.argmin(mean_errors, 1), truth)
    print(per_class, results, flush=True)
    return results


def main(argv=None):
    args = parse_args(argv)
    code_version = commit()
    images, labels = load_mnist(args.data_dir, subset="test", download=args.data_dir is None)
    labels = labels.astype("int64")
    train_rows, test_rows = fraction_split(np.arange(len(images)),
                                           np.random.default_rng(args.seed), (0.8, 0.2))
    begin = time.perf_counter()
    runs = [run(args, images, labels, train_rows, test_rows, n) for n in args.train_images]
    out = {"benchmark": "reconstruction_mnist", "ways": args.ways, "chance": 1 / args.ways,
           "settings": {k: v for k, v in vars(args).items() if k not in ("output", "quick")},
           "method": "one MAML coordinate-MLP per digit; class = lowest reconstruction MSE of "
                     "all pixels after adapting on `shots` pixels",
           "test_images": args.test_images, "seed": args.seed, "runs": runs,
           "total_seconds": round(time.perf_counter() - begin, 1),
           "command": "python benchmarks/standalone/reconstruction_mnist.py "
                      + " ".join(argv if argv is not None else sys.argv[1:]),
           "commit": code_version, "machine": machine()}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
