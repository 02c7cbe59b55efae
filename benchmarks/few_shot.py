"""Few-shot image classification: N-way K-shot accuracy on held-out classes of MNIST and Omniglot.

Tasks are `l2l.tasks.FewShotClassification` episodes (labels permuted per episode). Test
classes are never seen in training:

- `mnist` (the 10,000 t10k images of `load_mnist()`): MNIST has only 10 classes, so a 70/15/15
  class split leaves too few test classes for 5-way. Design: train on digits 0-4, test on
  digits 5-9 (5 each, `MNIST_SPLIT`). For 5-way every training episode then holds the same
  five digits (only their label order changes), and every test episode the five test digits:
  this measures transfer to unseen digits, with little task diversity in training.
- `omniglot` (`images_background_small1` + `small2`, 28x28): alphabet-disjoint splits
  (`alphabet_splits`, 70/15/15 of the alphabets; nothing is tuned on validation, so test
  episodes draw from the val and test alphabets together), training classes augmented with
  90/180/270 degree rotations as new classes; test episodes draw unrotated characters of
  alphabets never seen in training, the hardest Omniglot protocol (a new writing system).

Each cell (dataset, ways, shots, method) trains a fresh `classification_model(method, ways)`
(default conv encoder) for `minutes_per_cell` training minutes (cosine learning rate over the
budget) and is scored on `test_episodes` stored test episodes (`eval_queries` queries per
class), the same for every method. Default: 5-way 1-shot, methods protonet, matching, pooled,
2 datasets x 3 methods x 1.5 minutes, about 12 minutes on 2 CPU cores. Options: `-o shots=1,5`,
`-o ways=5,20` (20-way needs Omniglot only: `-o datasets=omniglot`); the `omniglot` benchmark
is that Omniglot 5/20-way x 1/5-shot grid. Not done: the full
Omniglot background/evaluation sets, character-disjoint splits (the usual protocol in papers,
easier than alphabet-disjoint), several seeds, and training to convergence (papers train for
hours; our figures are for minutes of CPU training).
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import PeakRSS, progress, row, stored_episodes, train_and_evaluate
from benchmarks.published import OMNIGLOT_ACCURACY

PUBLISHED_OMNIGLOT = OMNIGLOT_ACCURACY  # see benchmarks.published

MNIST_SPLIT = {"train": np.arange(5), "test": np.arange(5, 10)}
DATASETS = ("mnist", "omniglot")


def load(dataset: str, data_dir: str | None = None) -> dict:
    """`{"x", "labels", "train", "test", "train_x", "train_labels", "info"}` for `dataset`.

    `train_x`/`train_labels` are the examples training episodes draw from (rotation-augmented
    for Omniglot); `x`/`labels` those test episodes draw from. Omniglot also gives the alphabet
    of every example of each, `alphabets` and `train_alphabets`.
    """
    if dataset == "mnist":
        from l2l.datasets import load_mnist

        images, labels = load_mnist(data_dir)
        x = images[..., None]
        return {"x": x, "labels": labels, "train_x": x, "train_labels": labels,
                "train": MNIST_SPLIT["train"], "test": MNIST_SPLIT["test"],
                "info": {"source": "load_mnist(subset='test')", "images": int(len(x)),
                         "train_digits": MNIST_SPLIT["train"].tolist(),
                         "test_digits": MNIST_SPLIT["test"].tolist()}}
    if dataset == "omniglot":
        from l2l.datasets import alphabet_splits, load_omniglot

        sets = ("images_background_small1", "images_background_small2")
        data = load_omniglot(data_dir, sets=sets) if data_dir else load_omniglot(sets=sets)
        splits = alphabet_splits(data)
        # Nothing is tuned on validation here, so its alphabets join the test ones: more test
        # alphabets (the 15% test split of the 10 small-set alphabets is a single one).
        splits["test"] = np.union1d(splits["val"], splits["test"])
        rotated = data.rotated()
        train = np.unique(rotated.characters[np.isin(rotated.base_characters, splits["train"])])
        return {"x": data.images[..., None], "labels": data.characters,
                "train_x": rotated.images[..., None], "train_labels": rotated.characters,
                "alphabets": data.alphabets, "train_alphabets": rotated.alphabets,
                "train": train, "test": splits["test"],
                "info": {"source": f"load_omniglot(sets={sets})", "images": int(len(data)),
                         "split": "alphabet_splits (70/15/15 of alphabets); test = val + test "
                                  "alphabets (no validation is used)",
                         "train_alphabets": int(len(np.unique(
                             data.alphabets[np.isin(data.characters, splits["train"])]))),
                         "test_alphabets": int(len(np.unique(
                             data.alphabets[np.isin(data.characters, splits["test"])]))),
                         "train_characters": int(len(splits["train"])),
                         "train_classes_with_rotations": int(len(train)),
                         "test_characters": int(len(splits["test"]))}}
    raise ValueError(f"Unknown dataset {dataset!r}; choose from {DATASETS}.")


def test_episodes_of(data: dict, dataset: str, ways: int, shots: int, queries: int,
                     num_episodes: int):
    """The stored test episodes of a cell (`data` from `load`): the one set every benchmark
    scoring this (dataset, ways, shots) uses, `few_shot-<dataset>-<ways>way-<shots>shot`."""
    from l2l.tasks import FewShotClassification

    task = FewShotClassification(data["x"], data["labels"], ways=ways, shots=shots,
                                 queries=queries, classes=data["test"])
    return stored_episodes(task, f"few_shot-{dataset}-{ways}way-{shots}shot", num_episodes,
                           "test")


def run(quick: bool = False, seed: int = 0, *, datasets: tuple[str, ...] = DATASETS,
        methods: tuple[str, ...] | None = None, ways: tuple[int, ...] = (5,),
        shots: tuple[int, ...] = (1,), minutes_per_cell: float | None = None,
        steps_per_epoch: int | None = None, batch_size: int | None = None,
        train_queries: int = 5, eval_queries: int = 5, test_episodes: int | None = None,
        width: int | None = None, data_dir: str | None = None) -> dict:
    """Train and score every (dataset, ways, shots, method) cell."""
    import keras

    from l2l.kinds import names
    from l2l.networks import conv_encoder
    from l2l.presets import classification_model
    from l2l.tasks import FewShotClassification

    methods = methods or (("protonet",) if quick else ("protonet", "matching", "pooled"))
    for m in methods:
        if m not in names("classification"):  # l2l's kinds and those a user registered
            raise ValueError(f"Unknown method {m!r}; choose from {names('classification')}.")
    minutes = minutes_per_cell if minutes_per_cell is not None else (0.03 if quick else 1.5)
    steps = steps_per_epoch or (5 if quick else 50)
    batch_size = batch_size or (4 if quick else 16)
    n_test = test_episodes or (50 if quick else 1000)
    width = width or (16 if quick else 64)
    filters = (8, 8) if quick else (32, 32, 32)

    rows, info, skipped = [], {}, []
    progress.plan(len(datasets) * len(ways) * len(shots) * len(methods))
    for dataset in datasets:
        data = load(dataset, data_dir)
        info[dataset] = data["info"]
        for n in ways:
            if n > min(len(data["train"]), len(data["test"])):
                skipped.append(f"{dataset} {n}-way: only {len(data['train'])} train / "
                               f"{len(data['test'])} test classes.")
                continue
            for k in shots:
                test = test_episodes_of(data, dataset, n, k, eval_queries, n_test)
                train = FewShotClassification(data["train_x"], data["train_labels"], ways=n,
                                              shots=k, queries=train_queries,
                                              classes=data["train"])
                for method in methods:
                    progress.cell(f"{method}, {dataset} {n}-way {k}-shot")
                    keras.utils.set_random_seed(seed)
                    with PeakRSS() as memory:
                        model = classification_model(
                            method, n, width=width,
                            encoder=conv_encoder(filters, units=width)
                            if method != "film" else None)
                        out = train_and_evaluate(model, train.dataset(batch_size, seed=seed),
                                                 test, minutes=minutes, steps_per_epoch=steps,
                                                 anneal=True)
                    keras.backend.clear_session()
                    rows.append(row(
                        method, "accuracy", out["mean"], ci95=out["ci95"],
                        episodes=out["episodes"], train_seconds=out["train_seconds"],
                        memory=memory, seed=seed,
                        settings={"dataset": dataset, "ways": n, "shots": k},
                        steps=out["steps"], episodes_trained=out["steps"] * batch_size,
                        chance=1.0 / n))
    notes = [f"One seed, {minutes:g} training minutes per cell on a shared 2-core CPU; papers "
             "train for hours, so these are short-budget figures, not converged ones."]
    if "mnist" in datasets:
        notes.append("MNIST: train digits 0-4, test digits 5-9; with 5-way every episode "
                     "holds the same five digits (labels permuted), so training sees little "
                     "task diversity.")
    notes += skipped
    for r in rows:
        if r["mean"] - r["ci95"] <= r["chance"] + 0.02:
            notes.append(f"{r['method']} on {r['settings']} failed to learn: accuracy "
                         f"{r['mean']:.3f} is at chance ({r['chance']:.2f}).")
    return {"rows": rows, "settings": {
        "datasets": datasets, "methods": methods, "ways": ways, "shots": shots,
        "minutes_per_cell": minutes, "steps_per_epoch": steps, "batch_size": batch_size,
        "train_queries_per_class": train_queries, "eval_queries_per_class": eval_queries,
        "test_episodes": n_test, "width": width, "encoder_filters": filters,
        "learning_rate": 1e-3, "lr_schedule": "cosine to zero over the time budget",
        "data": info}, "notes": notes}


def plot(result: dict):
    """Test accuracy (95% CI) per cell, one bar per method, chance marked."""
    import matplotlib.pyplot as plt

    rows = result["rows"]
    key = lambda r: (r["settings"]["dataset"], r["settings"]["ways"],  # noqa: E731
                     r["settings"]["shots"])
    cells = list(dict.fromkeys(key(r) for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(cells)), 3.6))
    x = np.arange(len(cells))
    for i, m in enumerate(methods):
        by = {key(r): r for r in rows if r["method"] == m}
        ax.bar(x - 0.4 + width * (i + 0.5),
               [100 * by[c]["mean"] if c in by else np.nan for c in cells], width,
               yerr=[100 * by[c]["ci95"] if c in by else 0 for c in cells], capsize=3, label=m)
    for j, (_, n, _) in enumerate(cells):
        ax.hlines(100 / n, j - 0.45, j + 0.45, color="gray", ls=":", lw=1)
    ax.set_xticks(x, [f"{d}\n{n}-way {k}-shot" for d, n, k in cells], fontsize=8)
    ax.set_ylabel("test accuracy, held-out classes (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"few-shot classification, {result['settings']['minutes_per_cell']:g} training "
                 f"minutes per cell\n({result['mode']} run; dotted: chance)", fontsize=9)
    fig.tight_layout()
    return fig


def summarize(result: dict) -> str:
    """A table: one line per (dataset, ways, shots), one column per method."""
    from benchmarks.readme import format_value

    rows = result["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["| dataset | task | " + " | ".join(methods) + " |", "|---" * (len(methods) + 2)
             + "|"]
    cells = dict.fromkeys((r["settings"]["dataset"], r["settings"]["ways"],
                           r["settings"]["shots"]) for r in rows)
    for d, n, k in cells:
        by = {r["method"]: r for r in rows if (r["settings"]["dataset"], r["settings"]["ways"],
                                               r["settings"]["shots"]) == (d, n, k)}
        lines.append(f"| {d} | {n}-way {k}-shot | " + " | ".join(
            format_value("accuracy", by[m]["mean"], by[m]["ci95"]) if m in by else "-"
            for m in methods) + " |")
    quoted = [(n, k) for d, n, k in cells if d == "omniglot"]
    if quoted and any(m in PUBLISHED_OMNIGLOT for m in methods):
        lines.append("")
        lines.append("Published Omniglot figures (Snell et al. 2017; memory: Kaiser et al. "
                     "2017; character-disjoint splits "
                     "of the full background set, hours of GPU training; quoted, not re-run): "
                     + "; ".join(f"{m} " + ", ".join(
                         f"{n}-way {k}-shot {100 * PUBLISHED_OMNIGLOT[m][n, k]:.1f}%"
                         for n, k in quoted if (n, k) in PUBLISHED_OMNIGLOT[m])
                         for m in methods if m in PUBLISHED_OMNIGLOT) + ". "
                     + "Steps trained per cell: " + ", ".join(
                         f"{r['method']} {r['settings']['ways']}-way {r['settings']['shots']}-shot "
                         f"{r['steps']}" for r in rows if r["settings"]["dataset"] == "omniglot")
                     + ".")
    return "\n".join(lines)
