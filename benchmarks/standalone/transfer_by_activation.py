"""Transfer by activation on MNIST: digits 0-4 as the source task, 5-9 as the target.

An MLP (784 -> 256 ReLU -> 5) is trained on digits 0-4. On a small target training set of
digits 5-9 (`--per-class` images per digit), three starts are compared, each then trained on
that small set in the same way and scored on the same held-out target images:

- `scratch`: fresh weights;
- `fine_tune`: every hidden unit kept, a new 5-way head;
- `activation_keep_F`: the hidden units among the `F` most active on the target training images
  keep their incoming weights, the others and the head are re-initialised
  (`l2l.transfer.transfer_by_activation`); F = 25%, 50%, 75% of units, and the units whose mean
  activation exceeds the layer's mean (`activation_above_mean`).

Every method is repeated with `--repeats` different target samples and seeds; the table gives
the mean held-out accuracy with its 95% CI over repeats. The picture shows the incoming weights
of the 16 units most active on the target data (kept) and the 16 least active (re-initialised).

    python benchmarks/standalone/transfer_by_activation.py          # the committed result (~20 min)
    python benchmarks/standalone/transfer_by_activation.py --quick

MNIST is read from $L2L_DATA_DIR (t10k images; rows split 80/20 by `fraction_split`).
Writes `benchmarks/standalone/results/transfer_by_activation.json` and `..._weights.png`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import keras
import numpy as np

from l2l.datasets import load_mnist
from l2l.evaluation import mean_ci95
from l2l.tasks.base import fraction_split
from l2l.transfer import (
    fine_tune_copy,
    hidden_activations,
    kept_units,
    mlp,
    plot_unit_weights,
    scratch_copy,
    transfer_with_masks,
)
from l2l.viz import save

sys.path.insert(0, os.path.dirname(__file__))
from provenance import commit, machine  # noqa: E402

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
FRACTIONS = (0.25, 0.5, 0.75)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--source-epochs", type=int, default=5)
    p.add_argument("--per-class", type=int, nargs="+", default=[10, 50],
                   help="target training images per digit (one experiment each)")
    p.add_argument("--target-steps", type=int, default=300, help="Adam steps on target data")
    p.add_argument("--target-batch", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                    "transfer_by_activation.json"))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.source_epochs, args.per_class, args.target_steps, args.repeats = 1, [10], 30, 2
    return args


def compile_model(model, learning_rate):
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def train_on(model, x, y, args):
    compile_model(model, args.learning_rate)
    epochs = int(np.ceil(args.target_steps * args.target_batch / len(x)))
    model.fit(x, y, batch_size=args.target_batch, epochs=epochs, verbose=0,
              shuffle=True, callbacks=[keras.callbacks.TerminateOnNaN()])
    return model


def accuracy(model, x, y) -> float:
    logits = model.predict(x, batch_size=1024, verbose=0)
    return float((logits.argmax(axis=1) == y).mean())


def main(argv=None):
    args = parse_args(argv)
    begin, code_version = time.perf_counter(), commit()
    images, labels = load_mnist(args.data_dir, subset="test", download=args.data_dir is None)
    labels = labels.astype("int64")
    train_rows, test_rows = fraction_split(np.arange(len(images)),
                                           np.random.default_rng(args.seed), (0.8, 0.2))

    def pick(rows, digits):
        rows = rows[np.isin(labels[rows], digits)]
        return images[rows], labels[rows] - min(digits)

    source_x, source_y = pick(train_rows, SOURCE)
    source_test_x, source_test_y = pick(test_rows, SOURCE)
    target_pool_x, target_pool_y = pick(train_rows, TARGET)
    target_test_x, target_test_y = pick(test_rows, TARGET)

    keras.utils.set_random_seed(args.seed)
    source = compile_model(mlp((28, 28), units=(args.units,), classes=len(SOURCE),
                               input_scale=1 / 255), args.learning_rate)
    source.fit(source_x, source_y, batch_size=64, epochs=args.source_epochs, verbose=0)
    source_accuracy = accuracy(source, source_test_x, source_test_y)
    print(f"source 0-4 held-out accuracy {source_accuracy:.4f}", flush=True)

    experiments = []
    for per_class in args.per_class:
        scores: dict[str, list[float]] = {}
        kept_counts: dict[str, list[int]] = {}
        seconds = 0.0
        for r in range(args.repeats):
            rng = np.random.default_rng([args.seed, per_class, r])
            chosen = np.concatenate([rng.choice(np.flatnonzero(target_pool_y == c), per_class,
                                                replace=False) for c in range(len(TARGET))])
            x, y = target_pool_x[chosen], target_pool_y[chosen]
            activations = hidden_activations(source, x)
            starts = {"scratch": lambda: scratch_copy(source, len(TARGET)),
                      "fine_tune": lambda: fine_tune_copy(source, len(TARGET))}
            masks = {f"activation_keep_{int(100 * f)}": kept_units(activations, keep_fraction=f)
                     for f in FRACTIONS}
            masks["activation_above_mean"] = kept_units(
                activations, threshold=float(activations[0].mean()))
            for name, mask in masks.items():
                starts[name] = lambda mask=mask: transfer_with_masks(source, mask, len(TARGET))
                kept_counts.setdefault(name, []).append(int(mask[0].sum()))
            for name, start in starts.items():
                keras.utils.set_random_seed(1000 * r + args.seed)  # same fresh init per repeat
                t = time.perf_counter()
                model = train_on(start(), x, y, args)
                seconds += time.perf_counter() - t
                scores.setdefault(name, []).append(accuracy(model, target_test_x, target_test_y))
        rows = []
        for name, values in scores.items():
            mean, ci = mean_ci95(values)
            rows.append({"method": name, "mean": mean, "ci95": ci, "repeats": len(values),
                         "per_repeat": values, "kept_units": kept_counts.get(name)})
            print(f"{per_class:3d}/digit  {name:24s} {100 * mean:.2f}% ± {100 * ci:.2f}%",
                  flush=True)
        experiments.append({"target_images_per_digit": per_class, "metric": "accuracy",
                            "test_images": int(len(target_test_y)),
                            "train_seconds": round(seconds, 1), "results": rows})

    activations = hidden_activations(source, target_pool_x)[0].mean(axis=0)
    order = np.argsort(-activations)
    shown = np.concatenate([order[:16], order[-16:]])
    titles = [f"{'kept' if i < 16 else 'reset'} {activations[u]:.2f}"
              for i, u in enumerate(shown)]
    figure = save(plot_unit_weights(
        source, shown, (28, 28), titles=titles,
        title="Source (0-4) hidden units by mean activation on digits 5-9: top 2 rows most "
              "active (kept), bottom 2 least active (re-initialised)"),
        os.path.splitext(args.output)[0] + "_weights.png")

    out = {"benchmark": "transfer_by_activation", "source_digits": SOURCE,
           "target_digits": TARGET, "source_heldout_accuracy": source_accuracy,
           "settings": {k: v for k, v in vars(args).items() if k not in ("output", "quick")},
           "network": f"784 -> {args.units} ReLU -> 5 logits",
           "ci": "95% normal interval over repeats (different target samples and inits)",
           "experiments": experiments, "figure": os.path.basename(figure), "seed": args.seed,
           "total_seconds": round(time.perf_counter() - begin, 1),
           "command": "python benchmarks/standalone/transfer_by_activation.py "
                      + " ".join(argv if argv is not None else sys.argv[1:]),
           "commit": code_version, "machine": machine()}
    with open(args.output, "w") as f:
        json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
